// Runs Firefox inside a network namespace for Playwright, which drives Firefox over WebDriver
// BiDi: a WebSocket on the loopback address of the namespace Firefox runs in, which the test
// (in its own namespace) cannot reach. This program listens on a free loopback port of the
// test's namespace, starts Firefox in namespace NS with its BiDi server on the same port number
// there, and carries every connection across through a small bridge process started in NS.
// Firefox then announces ws://127.0.0.1:PORT, which is right on both sides.
//
//   node netns-firefox.js NS FIREFOX [firefox arguments…]      (what Playwright launches)
//   node netns-firefox.js --bridge PORT                        (in NS: stdio <-> 127.0.0.1:PORT)
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const [first, second, ...rest] = process.argv.slice(2);

if (first === '--bridge') {
  const socket = connect(Number(second), '127.0.0.1');
  process.stdin.pipe(socket);
  socket.pipe(process.stdout);
  socket.on('close', () => process.exit(0));
  socket.on('error', () => process.exit(1));
} else {
  const [ns, firefox, args] = [first, second, rest];
  const self = fileURLToPath(import.meta.url);
  let port;
  const server = createServer((client) => {
    const bridge = spawn('ip', ['netns', 'exec', ns, process.execPath, self, '--bridge', String(port)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    client.pipe(bridge.stdin);
    bridge.stdout.pipe(client);
    client.on('error', () => {});
    bridge.stdin.on('error', () => {});
    client.on('close', () => bridge.kill());
    bridge.on('exit', () => client.destroy());
  });
  server.listen(0, '127.0.0.1', () => {
    port = server.address().port;
    const firefoxArgs = args.map((a) => (a === '--remote-debugging-port=0' ? `--remote-debugging-port=${port}` : a));
    const browser = spawn('ip', ['netns', 'exec', ns, firefox, ...firefoxArgs], { stdio: 'inherit' });
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
      process.on(signal, () => browser.kill(signal));
    }
    browser.on('exit', (code, signal) => {
      server.close();
      process.exit(code ?? (signal ? 1 : 0));
    });
  });
}
