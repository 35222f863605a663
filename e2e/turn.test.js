// Calls forced through a TURN relay (iceTransportPolicy "relay"): through a real coturn started
// on loopback with credentials from treff, and through treff's embedded relay. A page given
// expired credentials must not get a relay at all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import {
  RESULTS, framesDecoded, freePort, joinAs, launchBrowser, newPage, peerId, sleep, startServer,
  waitFor, waitForVideo,
} from './helpers.js';

const SECRET = 'turn-test-secret';
let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
});

/** Makes every RTCPeerConnection of the page relay-only, and optionally replaces the TURN
 * credentials the server handed out. Runs in the page before the app. */
function relayOnly(override) {
  const Original = window.RTCPeerConnection;
  const patch = (config = {}) => {
    const out = { ...config, iceTransportPolicy: 'relay' };
    if (override && out.iceServers) {
      out.iceServers = out.iceServers.map((s) => (s.username ? { ...s, ...override } : s));
    }
    return out;
  };
  class RelayOnly extends Original {
    constructor(config, ...rest) {
      super(patch(config), ...rest);
    }
    setConfiguration(config) {
      return super.setConfiguration(patch(config));
    }
  }
  window.RTCPeerConnection = RelayOnly;
}

async function relayPage(label, override) {
  const page = await newPage(browser, label);
  await page.addInitScript(relayOnly, override ?? null);
  return page;
}

/** Types of the local candidates of the pairs ICE selected, and the number of relay
 * candidates gathered, on one page. */
function candidateSummary(page) {
  return page.evaluate(async () => {
    const selected = [];
    let relayCandidates = 0;
    for (const [, pc] of window.__treff.connections()) {
      const report = await pc.getStats();
      for (const s of report.values()) {
        if (s.type === 'local-candidate' && s.candidateType === 'relay') relayCandidates += 1;
        if (s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated) {
          selected.push(report.get(s.localCandidateId)?.candidateType);
        }
      }
    }
    return { selected, relayCandidates };
  });
}

async function callThroughRelay(server, room) {
  const ada = await relayPage('ada');
  const bob = await relayPage('bob');
  try {
    await ada.goto(`${server.url}/room/${room}`);
    await joinAs(ada, 'Ada');
    await waitFor('Ada to be welcomed', () => peerId(ada));
    await bob.goto(`${server.url}/room/${room}`);
    await joinAs(bob, 'Bob');
    await Promise.all([waitForVideo('Ada', ada, 20000), waitForVideo('Bob', bob, 20000)]);
    for (const [who, page] of [['Ada', ada], ['Bob', bob]]) {
      const { selected } = await candidateSummary(page);
      assert.ok(selected.length > 0, `${who} has a selected candidate pair`);
      assert.ok(selected.every((t) => t === 'relay'), `${who} sends through the relay: ${selected}`);
    }
  } finally {
    await ada.context().close();
    await bob.context().close();
  }
}

/** Debian's coturn on loopback, checking credentials with the shared secret. */
async function startCoturn(port) {
  const log = openSync(join(RESULTS, 'coturn.log'), 'a');
  const child = spawn('turnserver', [
    '-n', '--no-cli', '--no-tls', '--no-dtls', '--simple-log', '--log-file=stdout',
    '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${port}`,
    '--min-port=50000', '--max-port=50100',
    '--use-auth-secret', `--static-auth-secret=${SECRET}`, '--realm=treff',
    // The test's browsers are on loopback; a real deployment denies these peers.
    '--allow-loopback-peers', '--fingerprint',
  ], { stdio: ['ignore', log, log] });
  const exited = new Promise((r) => child.once('exit', r));
  await sleep(500);
  if (child.exitCode !== null) throw new Error(`turnserver exited with ${child.exitCode}`);
  return {
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await Promise.race([exited, sleep(2000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

test('a relay-only call works through coturn with credentials from treff', async () => {
  const port = await freePort();
  const coturn = await startCoturn(port);
  const server = await startServer({
    name: 'turn-coturn',
    args: ['--turn-url', `turn:127.0.0.1:${port}?transport=udp`, '--turn-secret', SECRET],
  });
  try {
    await callThroughRelay(server, 'relay-coturn');
  } finally {
    await server.stop();
    await coturn.stop();
  }
});

test('a relay-only call works through the embedded TURN relay', async () => {
  const port = await freePort();
  const server = await startServer({
    name: 'turn-embedded',
    args: ['--turn', '--turn-listen', `127.0.0.1:${port}`, '--turn-allow-private'],
  });
  try {
    await callThroughRelay(server, 'relay-embedded');
  } finally {
    await server.stop();
  }
});

test('a page given expired TURN credentials cannot relay', async () => {
  const port = await freePort();
  const coturn = await startCoturn(port);
  const server = await startServer({
    name: 'turn-expired',
    args: ['--turn-url', `turn:127.0.0.1:${port}?transport=udp`, '--turn-secret', SECRET],
  });
  // Right secret, so only the expiry (an hour ago) is wrong.
  const username = `${Math.floor(Date.now() / 1000) - 3600}:expired`;
  const credential = createHmac('sha1', SECRET).update(username).digest('base64');
  const ada = await relayPage('ada');
  const bob = await relayPage('bob', { username, credential });
  try {
    await ada.goto(`${server.url}/room/relay-expired`);
    await joinAs(ada, 'Ada');
    await waitFor('Ada to be welcomed', () => peerId(ada));
    await bob.goto(`${server.url}/room/relay-expired`);
    await joinAs(bob, 'Bob');
    await waitFor('Bob to have a peer connection', () => bob.evaluate(() => window.__treff.connections().size > 0));
    // Ada's own relay works; Bob's allocation is refused, so no media can flow between them.
    await waitFor('Ada to gather a relay candidate', async () => (await candidateSummary(ada)).relayCandidates > 0);
    await sleep(6000);
    assert.equal((await candidateSummary(bob)).relayCandidates, 0, 'Bob gathered no relay candidate');
    assert.equal(await framesDecoded(bob), 0, 'Bob decodes nothing');
    assert.equal(await framesDecoded(ada), 0, 'Ada decodes nothing');
  } finally {
    await ada.context().close();
    await bob.context().close();
    await server.stop();
    await coturn.stop();
  }
});
