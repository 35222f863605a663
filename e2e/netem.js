// An emulated internet on one machine, for the network tests: network namespaces joined by veth
// pairs, NAT routers made with iptables, links shaped with tc and treff-netem. Built inside the private network
// namespace the browser test script runs in, so nothing here ever leaves the machine, and torn
// down after each test.
//
//   public network 203.0.113.0/24 (a bridge in the test's own namespace)
//     203.0.113.1   the treff server (and its TURN relay, or coturn)
//     203.0.113.1N  router N's outside address
//   home network N 100.64.N.0/24, behind router N
//     100.64.N.1    router N's inside address
//     100.64.N.2    the home's one machine (a browser)
//
// Router flavours: 'cone' masquerades keeping source ports (endpoint-independent mapping, so a
// STUN-learnt address works for every peer; inbound only from addresses it sent to); 'symmetric'
// picks a new port for every destination (only a relay works). Both drop unsolicited inbound.
import { execFileSync, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PUBLIC_IP = '203.0.113.1';

let built = 0;

function run(args, { ns } = {}) {
  const argv = ns ? ['netns', 'exec', ns, ...args] : args;
  try {
    return execFileSync(ns ? 'ip' : argv[0], ns ? argv : argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  } catch (err) {
    throw new Error(`${argv.join(' ')}: ${err.stderr?.toString().trim() || err.message}`);
  }
}

const ip = (...args) => run(['ip', ...args]);

/** The rules of a NAT router of `flavour` between `lan` and `wan`. */
function natRules(flavour) {
  const masquerade = ['-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan', '-j', 'MASQUERADE'];
  if (flavour === 'symmetric') masquerade.push('--random-fully');
  else if (flavour !== 'cone') throw new Error(`unknown NAT flavour "${flavour}"`);
  return [
    masquerade,
    ['-A', 'FORWARD', '-i', 'lan', '-o', 'wan', '-j', 'ACCEPT'],
    ['-A', 'FORWARD', '-i', 'wan', '-o', 'lan', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'],
    ['-A', 'FORWARD', '-i', 'wan', '-j', 'DROP'],
    // Unsolicited packets to the router itself are dropped too, as real routers do. Accepted,
    // each would leave a connection-tracking entry that takes the very port mapping the home's
    // own reply is about to need: the NAT then maps that reply to another port, and two homes
    // punching holes towards each other at once would both fail.
    ['-A', 'INPUT', '-i', 'wan', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT'],
    ['-A', 'INPUT', '-i', 'wan', '-j', 'DROP'],
  ];
}

/**
 * Builds the public network and one home network per entry of `homes` (`{ name, nat }`), and
 * tears them down after test `t`. Returns `{ publicIp, homes }` where `homes[name]` is
 * `{ ns, router, ip, outside }`: the home's namespace (run a browser in it), its router's
 * namespace, the home machine's address and the router's outside address.
 */
export function buildInternet(t, homes) {
  const id = `n${process.pid % 1000}x${built++}`;
  const bridge = `${id}b`;
  const made = [];
  t.after(() => {
    for (const ns of made) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // gone already
      }
    }
    try {
      ip('link', 'del', bridge);
    } catch {
      // gone already
    }
  });
  ip('link', 'add', bridge, 'type', 'bridge');
  ip('addr', 'add', `${PUBLIC_IP}/24`, 'dev', bridge);
  ip('link', 'set', bridge, 'up');
  const out = {};
  homes.forEach(({ name, nat }, index) => {
    const n = index + 1;
    const router = `${id}r${n}`;
    const home = `${id}h${n}`;
    for (const ns of [router, home]) {
      ip('netns', 'add', ns);
      made.push(ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    // Outside: the router's `wan` on the public bridge.
    ip('link', 'add', `${id}w${n}`, 'type', 'veth', 'peer', 'name', `${id}W${n}`);
    ip('link', 'set', `${id}W${n}`, 'netns', router);
    ip('-n', router, 'link', 'set', `${id}W${n}`, 'name', 'wan');
    ip('link', 'set', `${id}w${n}`, 'master', bridge);
    ip('link', 'set', `${id}w${n}`, 'up');
    const outside = `203.0.113.${10 + n}`;
    ip('-n', router, 'addr', 'add', `${outside}/24`, 'dev', 'wan');
    ip('-n', router, 'link', 'set', 'wan', 'up');
    ip('-n', router, 'route', 'add', 'default', 'via', PUBLIC_IP);
    // Inside: the router's `lan` and the home machine's `eth0`.
    ip('link', 'add', `${id}l${n}`, 'type', 'veth', 'peer', 'name', `${id}L${n}`);
    ip('link', 'set', `${id}l${n}`, 'netns', router);
    ip('-n', router, 'link', 'set', `${id}l${n}`, 'name', 'lan');
    ip('link', 'set', `${id}L${n}`, 'netns', home);
    ip('-n', home, 'link', 'set', `${id}L${n}`, 'name', 'eth0');
    ip('-n', router, 'addr', 'add', `100.64.${n}.1/24`, 'dev', 'lan');
    ip('-n', router, 'link', 'set', 'lan', 'up');
    ip('-n', home, 'addr', 'add', `100.64.${n}.2/24`, 'dev', 'eth0');
    ip('-n', home, 'link', 'set', 'eth0', 'up');
    ip('-n', home, 'route', 'add', 'default', 'via', `100.64.${n}.1`);
    run(['sysctl', '-qw', 'net.ipv4.ip_forward=1'], { ns: router });
    for (const rule of natRules(nat)) run(['iptables', ...rule], { ns: router });
    out[name] = { ns: home, router, ip: `100.64.${n}.2`, outside, nat };
  });
  return { publicIp: PUBLIC_IP, homes: out };
}

/** Drops, on a home's router, everything the home sends to UDP `port` of `host` (a relay). */
export function blockOutbound(home, host, port) {
  run(['iptables', '-I', 'FORWARD', '-i', 'lan', '-d', host, '-p', 'udp', '--dport', String(port), '-j', 'DROP'],
    { ns: home.router });
}

/**
 * Moves a home's machine to a new address in its network (as a laptop that changes from one
 * Wi-Fi to another): the new address comes up, the old one goes. Returns the new address.
 */
export function renumber(home) {
  const [a, b, c, d] = home.ip.split('.');
  const next = `${a}.${b}.${c}.${Number(d) + 1}`;
  run(['sysctl', '-qw', 'net.ipv4.conf.eth0.promote_secondaries=1'], { ns: home.ns });
  ip('-n', home.ns, 'addr', 'add', `${next}/24`, 'dev', 'eth0');
  ip('-n', home.ns, 'addr', 'del', `${home.ip}/24`, 'dev', 'eth0');
  ip('-n', home.ns, 'route', 'replace', 'default', 'via', `${a}.${b}.${c}.1`);
  home.ip = next;
  return next;
}

const NETEM_BIN = process.env.TREFF_NETEM_BIN
  || join(dirname(fileURLToPath(import.meta.url)), '..', 'target/debug/treff-netem');

/**
 * Makes a home's access link slow and lossy, as a DSL line or a mobile network is, until test
 * `t` ends. `up` and `down` (both optional) are `{ kbit, delayMs, lossPercent }`: a rate limit
 * (the kernel's tbf, with a 200 ms queue as home routers have), a delay and a random loss (this
 * kernel has no netem: `treff-netem` holds the packets iptables queues to it, in the router's
 * mangle table so that the NAT's filtering still applies). Returns a description for logs.
 */
export function impair(t, home, { up, down } = {}) {
  const children = [];
  t.after(() => {
    for (const child of children) child.kill('SIGKILL');
  });
  const directions = [['up', up, 'lan', 'wan', 0], ['down', down, 'wan', 'lan', 1]];
  for (const [, shape, from, to, queue] of directions) {
    if (!shape) continue;
    if (shape.kbit) {
      run(['tc', 'qdisc', 'add', 'dev', to, 'root', 'tbf', 'rate', `${shape.kbit}kbit`,
        'burst', '16kb', 'latency', '200ms'], { ns: home.router });
    }
    if (shape.delayMs || shape.lossPercent) {
      const child = spawn('ip', ['netns', 'exec', home.router, NETEM_BIN, '--queue', String(queue),
        '--delay-ms', String(shape.delayMs ?? 0), '--loss-percent', String(shape.lossPercent ?? 0),
        '--seed', String(queue + 1)], { stdio: ['ignore', 'inherit', 'inherit'] });
      children.push(child);
      run(['iptables', '-t', 'mangle', '-A', 'FORWARD', '-i', from, '-o', to, '-j', 'NFQUEUE',
        '--queue-num', String(queue)], { ns: home.router });
    }
  }
  const say = (s) => s && [s.kbit && `${s.kbit} kbit/s`, s.delayMs && `${s.delayMs} ms`,
    s.lossPercent && `${s.lossPercent} % loss`].filter(Boolean).join(', ');
  return `up ${say(up) || 'as is'}; down ${say(down) || 'as is'}`;
}
