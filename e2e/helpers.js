// Shared pieces of the browser tests: the real server on a free loopback port, headless Chromium
// with fake devices, and polling helpers.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync, openSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const RESULTS = join(ROOT, 'e2e/results');
// The README's pictures are only rewritten on request, so that a test run leaves the tree clean.
export const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1'
  ? join(ROOT, 'docs/screenshots')
  : join(RESULTS, 'screenshots');
const TREFF_BIN = process.env.TREFF_BIN || join(ROOT, 'target/debug/treff');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

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
export async function startServer({ port, args = [], name = 'server' } = {}) {
  mkdirSync(RESULTS, { recursive: true });
  port ??= await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log = openSync(join(RESULTS, `${name}.log`), 'a');
  const child = spawn(
    TREFF_BIN,
    ['--listen', `127.0.0.1:${port}`, '--static-dir', join(ROOT, 'static'), ...args],
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
  return { url, port, stop };
}

/**
 * Headless Chromium with fake camera and microphone. With `grantMedia: false` the permission
 * prompt is not auto-accepted, so getUserMedia fails as if the person said no.
 */
export function launchBrowser({ grantMedia = true } = {}) {
  // Without a media permission Chromium hides host addresses behind mDNS names, which nothing
  // resolves in the test's network namespace; a real network has STUN or working mDNS.
  const args = grantMedia
    ? CHROMIUM_ARGS
    : [
      ...CHROMIUM_ARGS.filter((a) => a !== '--use-fake-ui-for-media-stream'),
      '--disable-features=WebRtcHideLocalIpsWithMdns',
    ];
  return chromium.launch({ executablePath: CHROMIUM, args });
}

/** A page in its own context (own localStorage); console errors go to stderr. */
export async function newPage(browser, label, viewport = { width: 1280, height: 720 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') console.error(`[${label}] ${msg.text()}`);
  });
  page.on('pageerror', (err) => console.error(`[${label}] page error: ${err.message}`));
  return page;
}

/** Inbound RTP stats of every connection of a page. */
export function inboundStats(page) {
  return page.evaluate(async () => {
    const out = [];
    for (const [peer, pc] of window.__treff.peerConnections()) {
      const report = await pc.getStats();
      for (const s of report.values()) {
        if (s.type === 'inbound-rtp') {
          out.push({
            peer,
            kind: s.kind,
            framesDecoded: s.framesDecoded ?? 0,
            packetsReceived: s.packetsReceived ?? 0,
            audioLevel: s.audioLevel ?? 0,
          });
        }
      }
    }
    return out;
  });
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
