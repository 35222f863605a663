// Two-person call in real headless Chromium against the real treff server.
//
// Both pages use Chromium's fake camera and microphone; the assertions read real
// RTCPeerConnection.getStats() through the app's tiny window.__treff hook. Run it through
// scripts/test-browser.sh, which puts the server and the browser in a network namespace that only
// has loopback.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdirSync, openSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TREFF_BIN = process.env.TREFF_BIN || join(ROOT, 'target/debug/treff');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const RESULTS = join(ROOT, 'e2e/results');
const SCREENSHOTS = join(ROOT, 'docs/screenshots');
const ROOM = 'e2e-room';

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

let server;
let browser;
let baseUrl;

/** A free TCP port on loopback. */
function freePort() {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolvePort(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` (async, returns a truthy value when done) until it succeeds or time runs out. */
async function waitFor(what, check, timeoutMs = 15000, intervalMs = 100) {
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
      throw new Error(`timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
    }
    await sleep(intervalMs);
  }
}

before(async () => {
  mkdirSync(RESULTS, { recursive: true });
  mkdirSync(SCREENSHOTS, { recursive: true });
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  const log = openSync(join(RESULTS, 'server.log'), 'w');
  server = spawn(TREFF_BIN, ['--listen', `127.0.0.1:${port}`, '--static-dir', join(ROOT, 'static')], {
    stdio: ['ignore', log, log],
  });
  server.once('exit', (code, signal) => {
    if (code !== null && code !== 0) console.error(`treff exited with ${code ?? signal}`);
  });
  await waitFor('GET /healthz', async () => (await fetch(`${baseUrl}/healthz`)).status === 200);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close().catch(() => {});
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await Promise.race([new Promise((r) => server.once('exit', r)), sleep(3000)]);
    if (server.exitCode === null) server.kill('SIGKILL');
  }
});

/** A page in its own browser context (own localStorage), logging console errors to stderr. */
async function newPage(label) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') console.error(`[${label}] ${msg.text()}`);
  });
  page.on('pageerror', (err) => console.error(`[${label}] page error: ${err.message}`));
  return page;
}

/** Stats of every connection of a page, summarised per kind of inbound stream. */
function inboundStats(page) {
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

async function joinAs(page, name, roomToType) {
  if (roomToType !== undefined) await page.getByLabel('Room').fill(roomToType);
  await page.getByLabel('Your name').fill(name);
  await page.getByRole('button', { name: 'Join', exact: true }).click();
}

async function openChat(page) {
  const field = page.getByLabel('Message');
  if (!(await field.isVisible())) await page.getByRole('button', { name: 'Chat', exact: true }).click();
  return field;
}

test('two people see and hear each other and chat', async () => {
  const ada = await newPage('ada');
  const bob = await newPage('bob');

  await ada.goto(`${baseUrl}/`);
  await ada.getByRole('button', { name: 'Join', exact: true }).waitFor();
  await ada.getByLabel('Room').fill(ROOM);
  await ada.getByLabel('Your name').fill('Ada');
  await ada.screenshot({ path: join(SCREENSHOTS, 'join.png') });
  await joinAs(ada, "Ada");
  await ada.waitForURL(`**/room/${ROOM}`);
  await waitFor('Ada to be welcomed', () => ada.evaluate(() => window.__treff.peerId()));

  // A deep link prefills the room.
  await bob.goto(`${baseUrl}/room/${ROOM}`);
  assert.equal(await bob.getByLabel('Room').inputValue(), ROOM);
  const joinedAt = Date.now();
  await joinAs(bob, "Bob");

  // Each side decodes the other's video, and the count keeps rising.
  const decoding = async (page) => {
    const video = (await inboundStats(page)).find((s) => s.kind === 'video');
    return video && video.framesDecoded > 0 ? video.framesDecoded : 0;
  };
  const [adaFirst, bobFirst] = await Promise.all([
    waitFor('Ada to decode video', () => decoding(ada)),
    waitFor('Bob to decode video', () => decoding(bob)),
  ]);
  const firstFrameMs = Date.now() - joinedAt;
  await waitFor('Ada framesDecoded to rise', async () => (await decoding(ada)) > adaFirst + 10);
  await waitFor('Bob framesDecoded to rise', async () => (await decoding(bob)) > bobFirst + 10);

  // Audio arrives with a real level (the fake microphone beeps).
  for (const [who, page] of [['Ada', ada], ['Bob', bob]]) {
    await waitFor(`${who} to receive audible audio`, async () => {
      const audio = (await inboundStats(page)).find((s) => s.kind === 'audio');
      return audio && audio.packetsReceived > 0 && audio.audioLevel > 0;
    });
  }
  console.log(`first frames decoded on both sides ${firstFrameMs} ms after Bob pressed Join`);

  // Each remote video is named after its participant.
  await ada.getByLabel('Video of Bob').waitFor();
  await bob.getByLabel('Video of Ada').waitFor();
  assert.equal(await ada.getByRole('button', { name: 'Microphone', exact: true }).getAttribute('aria-pressed'), 'true');
  assert.equal(await ada.getByRole('button', { name: 'Camera', exact: true }).getAttribute('aria-pressed'), 'true');
  assert.equal(await ada.getByRole('button', { name: 'Share screen', exact: true }).getAttribute('aria-pressed'), 'false');

  // Chat: text typed on one side shows up, as text, on the other.
  const text = 'Hello Bob <b>not bold</b>';
  const field = await openChat(ada);
  await field.fill(text);
  await field.press('Enter');
  await openChat(bob);
  await bob.locator('.messages').getByText(text, { exact: true }).waitFor();
  assert.equal(await bob.locator('.messages b').count(), 0, 'chat text must not become HTML');

  // Let the videos settle for the screenshot.
  await sleep(500);
  await ada.screenshot({ path: join(SCREENSHOTS, 'call.png') });

  // Turning the camera off is announced to the other side.
  await bob.getByRole('button', { name: 'Camera', exact: true }).click();
  assert.equal(await bob.getByRole('button', { name: 'Camera', exact: true }).getAttribute('aria-pressed'), 'false');
  await ada.locator('.tile', { hasText: 'Bob' }).locator('.placeholder').waitFor();

  // Leaving closes the connection on both sides.
  await bob.getByRole('button', { name: 'Leave', exact: true }).click();
  await waitFor('Bob to close his connections', () => bob.evaluate(() => window.__treff.peerConnections().size === 0));
  await waitFor('Ada to drop Bob', () => ada.evaluate(() => window.__treff.peerConnections().size === 0));
  await bob.getByRole('button', { name: 'Join', exact: true }).waitFor();
});
