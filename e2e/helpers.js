// Shared pieces of the browser tests and the call benchmark: the real server on a free loopback
// port, headless Chromium and Firefox with fake devices, fixtures that register a scenario once per
// browser, polling helpers, and readers of what a page shows and what its RTCPeerConnections
// report (the same question asked of either browser).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net, { createServer } from 'node:net';
import { mkdirSync, openSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { chromium, firefox } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const RESULTS = join(ROOT, 'e2e/results');
// The README's pictures are only rewritten on request, so that a test run leaves the tree clean.
export const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1'
  ? join(ROOT, 'docs/screenshots')
  : join(RESULTS, 'screenshots');
export const TREFF_BIN = process.env.TREFF_BIN || join(ROOT, 'target/debug/treff');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';

const KNOWN_BROWSERS = ['chromium', 'firefox'];
/** The browsers each scenario runs in: TREFF_BROWSERS (comma-separated), both by default. */
export const BROWSERS = (process.env.TREFF_BROWSERS || KNOWN_BROWSERS.join(','))
  .split(',').map((b) => b.trim()).filter(Boolean);
for (const name of BROWSERS) {
  if (!KNOWN_BROWSERS.includes(name)) {
    throw new Error(`TREFF_BROWSERS names "${name}"; known browsers: ${KNOWN_BROWSERS.join(', ')}`);
  }
}

/**
 * Parts of the product a run switches off on purpose, to show that the tests notice
 * (TREFF_E2E_BREAK, comma-separated; none by default):
 * - `ice-restart`: pages never restart ICE (`restartIce()` does nothing);
 * - `turn-for-symmetric`: in the network tests, a home behind a symmetric NAT cannot reach the
 *   TURN relay (its router drops what it sends to the relay's port).
 */
const KNOWN_BREAKS = ['ice-restart', 'turn-for-symmetric'];
export const BREAK = new Set((process.env.TREFF_E2E_BREAK || '').split(',').map((b) => b.trim()).filter(Boolean));
for (const name of BREAK) {
  if (!KNOWN_BREAKS.includes(name)) {
    throw new Error(`TREFF_E2E_BREAK names "${name}"; known: ${KNOWN_BREAKS.join(', ')}`);
  }
}
if (BREAK.size) console.error(`TREFF_E2E_BREAK: ${[...BREAK].join(', ')} switched off on purpose; tests that need them should fail`);

/** Stands in for the page's own code when ICE restarts are switched off (TREFF_E2E_BREAK). */
function noIceRestart() {
  RTCPeerConnection.prototype.restartIce = function restartIce() {};
}

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--autoplay-policy=no-user-gesture-required',
];

/** Firefox (driven over WebDriver BiDi) with fake camera and microphone and no prompts. */
const FIREFOX_PREFS = {
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  'permissions.default.camera': 1,
  'permissions.default.microphone': 1,
  'media.autoplay.default': 0,
  'media.autoplay.blocking_policy': 0,
  // Without it Firefox drops 127.0.0.1 candidates, the only ones the test namespace has.
  'media.peerconnection.ice.loopback': true,
  // No mDNS names for host candidates: nothing resolves them in the test namespace.
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  // enumerateDevices() otherwise waits until the page has the focus, which only one page has.
  'media.devices.unfocused.enabled': true,
  // There is no sound device here: without a mock output an AudioContext never starts, and
  // nothing could listen to what a page plays (playedAudioPeak).
  'media.cubeb.force_mock_context': true,
};

/** As if the person said no: every camera and microphone request is refused. */
const FIREFOX_DENY_PREFS = {
  'media.navigator.permission.disabled': false,
  'permissions.default.camera': 2,
  'permissions.default.microphone': 2,
};

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A free TCP port on loopback. */
export function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

/** Polls `check` (may be async; done when it returns a truthy value) until time runs out. */
export async function waitFor(what, check, timeoutMs = 15000, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await check();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out waiting for ${what}; last: ${detail}`);
    }
    await sleep(intervalMs);
  }
}

/**
 * Starts the real treff binary on `port` (a free one by default) and waits for /healthz.
 * Returns { url, port, stop() }; stop() is safe to call twice.
 */
export async function startServer({ port, args = [], name = 'server', host = '127.0.0.1' } = {}) {
  mkdirSync(RESULTS, { recursive: true });
  port ??= await freePort();
  const url = `http://${host}:${port}`;
  const log = openSync(join(RESULTS, `${name}.log`), 'a');
  const child = spawn(
    TREFF_BIN,
    ['--listen', `${host}:${port}`, '--static-dir', join(ROOT, 'static'), ...args],
    { stdio: ['ignore', log, log] },
  );
  const exited = new Promise((r) => child.once('exit', r));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(3000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  try {
    await waitFor('GET /healthz', async () => {
      if (child.exitCode !== null) throw new Error(`treff exited with ${child.exitCode}`);
      return (await fetch(`${url}/healthz`)).status === 200;
    });
  } catch (err) {
    await stop();
    throw err;
  }
  // SIGKILL: the node dies without a word, as a crashed machine would.
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await exited;
  };
  return { url, port, stop, kill };
}

/**
 * Debian's redis-server on a free loopback port, without persistence. Returns
 * `{ url, port, stop() }`.
 */
export async function startRedis({ name = 'redis' } = {}) {
  mkdirSync(RESULTS, { recursive: true });
  const port = await freePort();
  const log = openSync(join(RESULTS, `${name}.log`), 'a');
  const child = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
  ], { stdio: ['ignore', log, log] });
  const exited = new Promise((r) => child.once('exit', r));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await exited;
  };
  await waitFor('redis-server', () => new Promise((resolve) => {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  }));
  return { url: `redis://127.0.0.1:${port}/0`, port, stop };
}

/**
 * One address in front of several treff nodes, as a TCP load balancer would be: each new
 * connection goes to the preferred node (`prefer(i)`), or, when that one refuses, to the next
 * that accepts. Returns `{ url, prefer(i), stop() }`.
 */
export async function startFront(ports) {
  let preferred = 0;
  const sockets = new Set();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    client.on('error', () => {});
    const order = [preferred, ...ports.keys()].filter((v, i, all) => all.indexOf(v) === i);
    const attempt = (k) => {
      if (k >= order.length) {
        client.destroy();
        return;
      }
      const upstream = net.connect(ports[order[k]], '127.0.0.1');
      let connected = false;
      upstream.once('connect', () => {
        connected = true;
        sockets.add(upstream);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      upstream.on('error', () => {
        if (!connected) attempt(k + 1);
        else client.destroy();
      });
      upstream.once('close', () => {
        sockets.delete(upstream);
        if (connected) client.destroy();
      });
      client.once('close', () => upstream.destroy());
    };
    attempt(0);
  });
  const port = await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
  return {
    url: `http://127.0.0.1:${port}`,
    prefer: (i) => { preferred = i; },
    stop: () => new Promise((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

/**
 * Debian's coturn listening and relaying on `ip` (loopback by default, where it must allow
 * loopback peers: the test's browsers are there; a real deployment denies them), checking
 * credentials with the shared `secret` as treff hands them out. Returns `{ stop() }`.
 */
export async function startCoturn({ port, secret, ip = '127.0.0.1' }) {
  mkdirSync(RESULTS, { recursive: true });
  const log = openSync(join(RESULTS, 'coturn.log'), 'a');
  const child = spawn('turnserver', [
    '-n', '--no-cli', '--no-tls', '--no-dtls', '--simple-log', '--log-file=stdout',
    `--listening-ip=${ip}`, `--relay-ip=${ip}`, `--listening-port=${port}`,
    '--min-port=50000', '--max-port=50100',
    '--use-auth-secret', `--static-auth-secret=${secret}`, '--realm=treff',
    ...(ip === '127.0.0.1' ? ['--allow-loopback-peers'] : []), '--fingerprint',
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

/**
 * A headless `browser` ('chromium' or 'firefox') with fake camera and microphone. With
 * `grantMedia: false` getUserMedia fails as if the person said no. `cameras: 2` offers two fake
 * cameras in Chromium (and its fake microphones, which are always three); Firefox always has one
 * fake camera and one fake microphone. `videoFile` (an absolute .y4m path) replaces Chromium's
 * fake camera picture with that video, looped; Firefox has no such option.
 */
export function launchBrowser({
  browser = 'chromium', grantMedia = true, cameras = 1, videoFile, netns, secureOrigin,
} = {}) {
  if (browser === 'firefox') {
    if (videoFile) throw new Error('Firefox cannot feed a video file to its fake camera');
    let prefs = grantMedia ? FIREFOX_PREFS : { ...FIREFOX_PREFS, ...FIREFOX_DENY_PREFS };
    // A page from a plain-HTTP address other than loopback is no secure context (no camera).
    if (secureOrigin) prefs = { ...prefs, 'dom.securecontext.allowlist': new URL(secureOrigin).hostname };
    return launchFirefox(prefs, netns);
  }
  if (browser !== 'chromium') throw new Error(`unknown browser "${browser}"`);
  // Without a media permission Chromium hides host addresses behind mDNS names, which nothing
  // resolves in the test's network namespace; a real network has STUN or working mDNS.
  let args = grantMedia
    ? CHROMIUM_ARGS
    : [
      ...CHROMIUM_ARGS.filter((a) => a !== '--use-fake-ui-for-media-stream'),
      '--disable-features=WebRtcHideLocalIpsWithMdns',
    ];
  if (cameras !== 1) {
    args = args.map((a) => (a === '--use-fake-device-for-media-stream' ? `${a}=device-count=${cameras}` : a));
  }
  if (videoFile) args = [...args, `--use-file-for-fake-video-capture=${videoFile}`];
  // A page from a plain-HTTP address other than loopback is no secure context (no camera).
  if (secureOrigin) args = [...args, `--unsafely-treat-insecure-origin-as-secure=${secureOrigin}`];
  return chromium.launch({ executablePath: netns ? inNamespace(netns, CHROMIUM) : CHROMIUM, args });
}

/**
 * A script that runs `program` with its arguments in network namespace `netns`: Playwright
 * drives the browser over a pipe, which crosses namespaces, so a browser launched through it
 * has that namespace's addresses.
 */
function inNamespace(netns, program) {
  return wrapperScript(`in-${netns}-${basename(program)}.sh`, `ip netns exec ${netns} ${program}`);
}

/**
 * The same for Firefox, which Playwright drives over a WebSocket on loopback rather than a pipe:
 * netns-firefox.js carries that WebSocket into the namespace.
 */
function firefoxInNamespace(netns) {
  const bridge = fileURLToPath(new URL('./netns-firefox.js', import.meta.url));
  return wrapperScript(`in-${netns}-firefox.sh`, `${process.execPath} ${bridge} ${netns} ${FIREFOX}`);
}

/** An executable script in the results folder that runs `command` with its own arguments. */
function wrapperScript(name, command) {
  mkdirSync(RESULTS, { recursive: true });
  const path = join(RESULTS, name);
  writeFileSync(path, `#!/bin/sh\nexec ${command} "$@"\n`, { mode: 0o755 });
  return path;
}

/** The id of the browser process of each launched Firefox (Playwright does not report it). */
const firefoxPids = new WeakMap();
let firefoxLaunches = Promise.resolve();

/**
 * Launches Firefox and notes its process: the one child of ours named firefox-esr that was not
 * there before. Launches take turns, so that two at once cannot be confused.
 */
function launchFirefox(prefs, netns) {
  const launch = firefoxLaunches.then(async () => {
    const before = new Set(childProcesses(process.pid));
    const browser = await firefox.launch({
      channel: 'moz-firefox',
      executablePath: netns ? firefoxInNamespace(netns) : FIREFOX,
      headless: true,
      firefoxUserPrefs: prefs,
    });
    // In a namespace, Firefox is a grandchild: below netns-firefox.js.
    const launched = childProcesses(process.pid).filter((p) => !before.has(p));
    const candidates = [...launched, ...launched.flatMap((p) => childProcesses(p))];
    const pid = candidates.find((p) => processName(p).startsWith('firefox'));
    if (pid) firefoxPids.set(browser, pid);
    return browser;
  });
  firefoxLaunches = launch.catch(() => {});
  return launch;
}

/** The name of a browser ('chromium' or 'firefox'), from a Browser or a Page. */
export function browserName(browserOrPage) {
  const browser = typeof browserOrPage.context === 'function' ? browserOrPage.context().browser() : browserOrPage;
  return browser.browserType().name();
}

/** A test that hangs fails after this long (scripts/test-browser.sh gives a whole file more). */
export const TEST_TIMEOUT_MS = 180000;

/**
 * Registers `scenario` as one test per browser in BROWSERS, titled `${title} [${browser}]`; the
 * scenario gets the test context and the browser's name. `options.browsers` limits it to some
 * browsers (say why where you do); `options.chromium` and `options.firefox` are node:test options
 * for that browser's test only (a `todo` for a known bug of one browser, say); other options go
 * to node:test for every browser.
 */
export function eachBrowser(title, scenario, { browsers = KNOWN_BROWSERS, ...options } = {}) {
  const common = Object.fromEntries(Object.entries(options).filter(([k]) => !KNOWN_BROWSERS.includes(k)));
  for (const browser of BROWSERS.filter((b) => browsers.includes(b))) {
    test(`${title} [${browser}]`, { timeout: TEST_TIMEOUT_MS, ...common, ...options[browser] }, (t) => scenario(t, browser));
  }
}

/** Whether the mixed calls can run: TREFF_BROWSERS names both browsers. */
export const MIXED = KNOWN_BROWSERS.every((b) => BROWSERS.includes(b));

/**
 * A server and the browsers one test needs, all stopped when the test ends (calls left running
 * would slow down the next test on a small machine). `browsers` lists launch options per browser
 * (a browser's name, or an object for launchBrowser). Returns `{ server, browser, browsers }`
 * (`browser` is the first).
 */
export async function setUp(t, { name, args = [], browsers = ['chromium'] }) {
  const server = await startServer({ name, args });
  const launched = [];
  t.after(async () => {
    for (const browser of launched) await browser.close().catch(() => {});
    await server.stop();
  });
  for (const spec of browsers) {
    launched.push(await launchBrowser(typeof spec === 'string' ? { browser: spec } : spec));
  }
  return { server, browser: launched[0], browsers: launched };
}

/** The ids of the direct children of process `pid`, read from /proc (Linux only). */
function childProcesses(pid) {
  return processTree().get(pid) ?? [];
}

/** The command name of a process ('' when it is gone). */
function processName(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Every process's children: parent id -> child ids, from /proc. */
function processTree() {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name may contain spaces and parentheses; the parent id follows the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return children;
}

/**
 * Every process of a launched browser: the browser process and all its descendants (Chromium's
 * zygotes, renderers, network service and GPU process; Firefox's fork server and its content,
 * socket, media and utility processes). Chromium reports its browser process itself; Firefox's is
 * the one noted at launch. Read from /proc, so Linux only.
 */
export async function browserProcesses(browser) {
  let root;
  if (browserName(browser) === 'firefox') {
    root = firefoxPids.get(browser);
  } else {
    const cdp = await browser.newBrowserCDPSession();
    const { processInfo } = await cdp.send('SystemInfo.getProcessInfo');
    await cdp.detach();
    root = processInfo.find((p) => p.type === 'browser')?.id;
  }
  if (!root) throw new Error('the browser did not report its process id');
  const children = processTree();
  const all = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift();
    all.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return all;
}

/** Sends `signal` to each of `pids` (see browserProcesses); ignores those already gone. */
export function signalAll(pids, signal) {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
  return pids;
}

/**
 * Runs in every Firefox page before the app: headless Firefox cannot capture a screen
 * (getDisplayMedia fails at once), so "Share screen" gets an animated canvas instead, and
 * everything after the capture (negotiation, the other side's second tile, stopping) is the real
 * path. The canvas is drawn from a timer, which also runs in a page that gets no animation frames.
 */
function canvasScreen() {
  const devices = navigator.mediaDevices;
  if (!devices) return;
  devices.getDisplayMedia = async () => {
    const canvas = document.createElement('canvas');
    canvas.width = 640;
    canvas.height = 360;
    const context = canvas.getContext('2d');
    let frame = 0;
    const draw = () => {
      frame += 1;
      context.fillStyle = `hsl(${(frame * 5) % 360} 50% 35%)`;
      context.fillRect(0, 0, canvas.width, canvas.height);
      context.fillStyle = '#fff';
      context.fillRect((frame * 8) % canvas.width, 120, 48, 160);
      context.font = '40px sans-serif';
      context.fillText(`screen ${frame}`, 24, 64);
    };
    draw();
    const timer = setInterval(draw, 66);
    const stream = canvas.captureStream(15);
    const [track] = stream.getVideoTracks();
    const stop = track.stop.bind(track);
    track.stop = () => {
      clearInterval(timer);
      stop();
    };
    return stream;
  };
}

/** A page in its own context (own localStorage); console errors go to stderr. */
export async function newPage(browser, label, viewport = { width: 1280, height: 720 }) {
  const context = await browser.newContext({ viewport });
  if (browserName(browser) === 'firefox') await context.addInitScript(canvasScreen);
  if (BREAK.has('ice-restart')) await context.addInitScript(noIceRestart);
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') console.error(`[${label}] ${msg.text()}`);
  });
  page.on('pageerror', (err) => console.error(`[${label}] page error: ${err.message}`));
  return page;
}

/** Opens a page at a room and joins it; resolves once the server welcomed it. */
export async function joinRoom(page, server, room, name) {
  const url = `${server.url}/room/${room}`;
  // A browser started just as its line was shaped (tc, a namespace's routes) may see the network
  // change under its first page load: net::ERR_NETWORK_CHANGED, or Chromium's error page taking
  // over the navigation (chrome-error://). Once more, a moment later, is enough.
  // The change can also hit one of the app's own files after the page itself loaded: then the
  // join form never shows, and the page is loaded once more.
  const changed = [];
  const onFailed = (request) => {
    const reason = request.failure()?.errorText ?? '';
    if (/ERR_NETWORK_CHANGED|NS_ERROR_NET/.test(reason)) changed.push(`${request.url()}: ${reason}`);
  };
  page.on('requestfailed', onFailed);
  await page.goto(url).catch(async (err) => {
    if (!/net::ERR_|chrome-error:|NS_ERROR_NET/.test(err.message)) throw err;
    console.error(`${name}'s first page load failed (${err.message.split('\n')[0]}); loading again`);
    await page.waitForTimeout(500);
    await page.goto(url);
  });
  const form = page.getByLabel('Your name');
  const shown = await form.waitFor({ timeout: 20000 }).then(() => true, () => false);
  page.off('requestfailed', onFailed);
  if (!shown && changed.length > 0) {
    console.error(`${name}'s page lost a file to a network change (${changed.join('; ')}); loading again`);
    await page.goto(url);
  }
  await joinAs(page, name);
  await waitFor(`${name} to be welcomed`, () => peerId(page));
}

/**
 * Ada (in `adaBrowser`) and Bob (in `bobBrowser`, the same by default) join `room` in that order
 * and wait until each receives the other's picture and sound.
 * Returns `{ ada, bob, adaId, bobId, pages: [ada, bob] }`.
 */
export async function call(server, room, adaBrowser, bobBrowser = adaBrowser) {
  const ada = await newPage(adaBrowser, 'ada');
  const bob = await newPage(bobBrowser, 'bob');
  await joinRoom(ada, server, room, 'Ada');
  await joinRoom(bob, server, room, 'Bob');
  const [adaId, bobId] = [await peerId(ada), await peerId(bob)];
  await Promise.all([waitForMediaFrom('Ada', ada, [bobId]), waitForMediaFrom('Bob', bob, [adaId])]);
  return { ada, bob, adaId, bobId, pages: [ada, bob] };
}

/**
 * Opens a page per `[name, browser]` and joins them to `room` one after the other.
 * Returns `[{ name, page, id }]`.
 */
export async function joinAll(server, room, people) {
  const joined = [];
  for (const [name, browser] of people) {
    const page = await newPage(browser, name.toLowerCase());
    await joinRoom(page, server, room, name);
    joined.push({ name, page, id: await peerId(page) });
  }
  return joined;
}

/**
 * Every page receives and shows every other page's media, and has no other connection.
 * `timeoutMs` bounds each wait.
 */
export async function fullMesh(people, { timeoutMs = 30000 } = {}) {
  await Promise.all(people.map(async ({ name, page }) => {
    const others = people.filter((p) => p.page !== page);
    await waitForMediaFrom(name, page, others.map((o) => o.id), { timeoutMs });
    for (const other of others) await waitForPresented(page, `Video of ${other.name}`, { timeoutMs });
    const connected = await page.evaluate(() => [...window.__treff.connections().keys()].map((k) => k.replace(/^mesh\//, '')).sort());
    assert.deepEqual(connected, others.map((o) => o.id).sort(), `${name} is connected to exactly the others`);
  }));
}

/** The tile of the camera (not the screen) of the participant shown as `name` ("Ada (you)" for oneself). */
export function tileOf(page, name) {
  return page.locator('figure.tile:not(.tile-screen)')
    .filter({ has: page.locator('.tile-name').getByText(name, { exact: true }) });
}

/**
 * The candidate pair each connection of a page sends on, by connection label:
 * `{ local, remote }` candidate types ('host', 'srflx', 'prflx', 'relay'), or null before ICE
 * picked one. The transport's selectedCandidatePairId where the browser reports it (Chromium,
 * Firefox 153), otherwise Firefox's `selected` flag on the pair.
 */
export function selectedPairs(page) {
  return page.evaluate(async () => {
    const out = {};
    for (const [label, pc] of window.__treff.connections()) {
      const report = await pc.getStats();
      let pair = null;
      for (const s of report.values()) {
        if (s.type === 'transport' && s.selectedCandidatePairId) pair = report.get(s.selectedCandidatePairId) ?? pair;
      }
      pair ??= [...report.values()].find((s) => s.type === 'candidate-pair' && s.selected) ?? null;
      out[label] = pair && {
        local: report.get(pair.localCandidateId)?.candidateType ?? null,
        remote: report.get(pair.remoteCandidateId)?.candidateType ?? null,
        rtt: pair.currentRoundTripTime ?? null,
      };
    }
    return out;
  });
}

/**
 * The moments the page's call recorded so far (`window.__treff.events()`): `{name, connection, t}`
 * with `t` from the page's `performance.now()`. Optionally only those named `name`.
 */
export async function events(page, name) {
  const all = await page.evaluate(() => window.__treff.events());
  return name === undefined ? all : all.filter((e) => e.name === name);
}

/** The label of the peer-to-peer connection to `peer` (see `window.__treff.connections()`). */
export const meshLink = (peer) => `mesh/${peer}`;

/** The labels of a page's open connections. */
export function connectionLabels(page) {
  return page.evaluate(() => [...window.__treff.connections().keys()].sort());
}

/** Signaling state and SDP of every connection of a page, by connection label. */
export function negotiationState(page) {
  return page.evaluate(() => Object.fromEntries([...window.__treff.connections()].map(([label, pc]) => [label, {
    signalingState: pc.signalingState,
    local: pc.currentLocalDescription?.sdp ?? null,
    remote: pc.currentRemoteDescription?.sdp ?? null,
  }])));
}

/**
 * Every `inbound-rtp` entry of every connection of a page, with the person and the stream it
 * belongs to as the page filed it (`window.__treff.streams()`, matched by `mid` or track id):
 * `{connection, peer, stream: 'audio'|'camera'|'screen'|null, kind, mid, framesDecoded,
 * packetsReceived, bytesReceived, audioLevel, totalAudioEnergy}`.
 */
export function inboundStats(page) {
  return page.evaluate(async () => {
    const streams = window.__treff.streams();
    const out = [];
    for (const [connection, pc] of window.__treff.connections()) {
      for (const s of (await pc.getStats()).values()) {
        if (s.type !== 'inbound-rtp') continue;
        const entry = streams.find((e) => e.connection === connection
          && ((s.mid != null && e.mid === s.mid) || e.trackId === s.trackIdentifier));
        out.push({
          connection,
          peer: entry?.peer ?? null,
          stream: entry?.kind ?? null,
          kind: s.kind,
          mid: s.mid ?? null,
          framesDecoded: s.framesDecoded ?? 0,
          packetsReceived: s.packetsReceived ?? 0,
          bytesReceived: s.bytesReceived ?? 0,
          audioLevel: s.audioLevel ?? 0,
          totalAudioEnergy: s.totalAudioEnergy ?? 0,
        });
      }
    }
    return out;
  });
}

/**
 * Per remote person: what the page receives from them, summed over the streams of each kind,
 * whichever connection carries them.
 * `{ [peer]: { video: {framesDecoded, bytesReceived, streams}, audio: {packetsReceived,
 * audioLevel, totalAudioEnergy} } }`.
 */
export async function receivedByPeer(page) {
  const out = {};
  for (const s of await inboundStats(page)) {
    if (s.peer === null) continue;
    const entry = out[s.peer] ??= {
      video: { framesDecoded: 0, bytesReceived: 0, streams: [] },
      audio: { packetsReceived: 0, audioLevel: 0, totalAudioEnergy: 0 },
    };
    if (s.kind === 'video') {
      entry.video.framesDecoded += s.framesDecoded;
      entry.video.bytesReceived += s.bytesReceived;
      entry.video.streams.push({ mid: s.mid, stream: s.stream, framesDecoded: s.framesDecoded });
    } else if (s.kind === 'audio') {
      entry.audio.packetsReceived += s.packetsReceived;
      entry.audio.audioLevel = Math.max(entry.audio.audioLevel, s.audioLevel);
      entry.audio.totalAudioEnergy += s.totalAudioEnergy;
    }
  }
  return out;
}

/**
 * Waits until `page` decodes video from every peer in `from` (peer ids) and keeps decoding it
 * (each count rises by more than `rise`), and receives audio from each with a non-zero level.
 */
export async function waitForMediaFrom(who, page, from, { rise = 10, timeoutMs = 20000 } = {}) {
  const first = await waitFor(`${who} to decode video from ${from.length} peers`, async () => {
    const got = await receivedByPeer(page);
    return from.every((id) => got[id]?.video.framesDecoded > 0) && got;
  }, timeoutMs);
  await waitFor(`${who}'s decoded frames from every peer to rise`, async () => {
    const got = await receivedByPeer(page);
    return from.every((id) => got[id].video.framesDecoded > first[id].video.framesDecoded + rise);
  }, timeoutMs);
  await waitFor(`${who} to hear every peer`, async () => {
    const got = await receivedByPeer(page);
    return from.every((id) => got[id].audio.packetsReceived > first[id].audio.packetsReceived
      && got[id].audio.audioLevel > 0);
  }, timeoutMs);
}

/**
 * Frames a <video> (found by its aria-label) has presented so far: what the person sees, as
 * opposed to what the decoder produced. -1 when there is no such element. Chromium counts them
 * in getVideoPlaybackQuality(); Firefox leaves that at 0 for a MediaStream and counts the frames
 * it painted in `mozPaintedFrames` instead.
 */
export function presentedFrames(page, label) {
  return page.evaluate(([label, firefox]) => {
    const video = document.querySelector(`video[aria-label="${label}"]`);
    if (!video) return -1;
    return firefox ? video.mozPaintedFrames : video.getVideoPlaybackQuality().totalVideoFrames;
  }, [label, browserName(page) === 'firefox']);
}

/** Waits until the <video> labelled `label` presents new frames (more than `rise`). */
export async function waitForPresented(page, label, { rise = 5, timeoutMs = 10000 } = {}) {
  const first = await waitFor(`"${label}" to be shown`, async () => {
    const n = await presentedFrames(page, label);
    return n >= 0 && { n };
  }, timeoutMs);
  await waitFor(`"${label}" to present new frames`, async () => (await presentedFrames(page, label)) > first.n + rise, timeoutMs);
}

/**
 * The loudest sample (0..1) that reaches the page through the audio of the <video> labelled
 * `label` during `ms`: the sound the person would hear, read with an AnalyserNode.
 */
export function playedAudioPeak(page, label, ms = 1500) {
  return page.evaluate(async ([label, ms]) => {
    const video = document.querySelector(`video[aria-label="${label}"]`);
    const tracks = video?.srcObject?.getAudioTracks() ?? [];
    if (tracks.length === 0) return 0;
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    context.createMediaStreamSource(new MediaStream(tracks)).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    let peak = 0;
    for (const end = performance.now() + ms; performance.now() < end;) {
      await new Promise((r) => setTimeout(r, 40));
      analyser.getFloatTimeDomainData(samples);
      for (const x of samples) peak = Math.max(peak, Math.abs(x));
    }
    await context.close();
    return peak;
  }, [label, ms]);
}

/**
 * Mean and spread of the luma (0..255) of the frame the <video> labelled `label` shows now, read
 * back through a canvas. A black frame has a mean near 16 and no spread.
 */
export function frameLuma(page, label) {
  return page.evaluate((label) => {
    const video = document.querySelector(`video[aria-label="${label}"]`);
    if (!video || !video.videoWidth) return null;
    const canvas = document.createElement('canvas');
    canvas.width = 160;
    canvas.height = 120;
    const context = canvas.getContext('2d', { willReadFrequently: true });
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
    let sum = 0;
    let sumSq = 0;
    const n = data.length / 4;
    for (let i = 0; i < data.length; i += 4) {
      const y = 0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2];
      sum += y;
      sumSq += y * y;
    }
    const mean = sum / n;
    return { mean, spread: Math.sqrt(Math.max(0, sumSq / n - mean * mean)) };
  }, label);
}

/** Frames of video decoded so far on a page (0 when none). */
export async function framesDecoded(page) {
  const video = (await inboundStats(page)).filter((s) => s.kind === 'video');
  return video.reduce((sum, s) => sum + s.framesDecoded, 0);
}

/** Waits until a page decodes video and keeps decoding (the count rises by more than 10). */
export async function waitForVideo(who, page, timeoutMs = 15000) {
  const first = await waitFor(`${who} to decode video`, () => framesDecoded(page), timeoutMs);
  await waitFor(`${who}'s decoded frames to rise`, async () => (await framesDecoded(page)) > first + 10, timeoutMs);
}

/** Fills the join form and presses Join. */
export async function joinAs(page, name, room) {
  if (room !== undefined) await page.getByLabel('Room', { exact: true }).fill(room);
  await page.getByLabel('Your name').fill(name);
  await page.getByRole('button', { name: 'Join', exact: true }).click();
}

/** Our peer id as the page knows it (null before welcome). */
export function peerId(page) {
  return page.evaluate(() => window.__treff.peerId());
}

/**
 * Clicks the button named `name` in every page at the same moment: each page arms a timer for one
 * common wall-clock time (plus `offsets[i]` ms for page i), so the clicks land within a
 * millisecond or two of the intended times (what Promise.all of separate clicks cannot promise).
 * Resolves to the click times (epoch ms).
 */
export async function clickTogether(pages, name, { delayMs = 300, offsets = [] } = {}) {
  const at = Date.now() + delayMs;
  return Promise.all(pages.map((page, i) => page.evaluate(([name, at]) => new Promise((resolve, reject) => {
    const button = [...document.querySelectorAll('button')].find((b) => b.textContent.trim() === name);
    if (!button) {
      reject(new Error(`no button "${name}"`));
      return;
    }
    setTimeout(() => {
      button.click();
      resolve(performance.timeOrigin + performance.now());
    }, at - (performance.timeOrigin + performance.now()));
  }), [name, at + (offsets[i] ?? 0)])));
}

/** Opens the chat panel if it is closed; returns the message field. */
export async function openChat(page) {
  const field = page.getByLabel('Message');
  if (!(await field.isVisible())) await page.getByRole('button', { name: 'Chat', exact: true }).click();
  return field;
}

/** Types a chat message and presses Send. */
export async function sendChat(page, text) {
  const field = await openChat(page);
  await field.fill(text);
  await page.getByRole('button', { name: 'Send', exact: true }).click();
}

/** The chat as the page shows it: `{sender, text}` per message, oldest first. */
export async function chatLines(page) {
  await openChat(page);
  return page.locator('.messages .message').evaluateAll((items) => items.map((li) => ({
    sender: li.querySelector('.sender').textContent,
    text: li.querySelector('.text').textContent,
  })));
}
