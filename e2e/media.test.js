// A person's own media during a call, checked on the other side in the DOM and in getStats().
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  joinRoom, launchBrowser, newPage, peerId, sleep, startServer, waitFor, waitForMediaFrom,
  waitForPresented,
} from './helpers.js';

let server;
let browser;

before(async () => {
  server = await startServer({ name: 'media' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
});

/** Ada and Bob in a call, each receiving the other; returns the pages and Bob's id. */
async function call(room) {
  const ada = await newPage(browser, 'ada');
  const bob = await newPage(browser, 'bob');
  await joinRoom(ada, server, room, 'Ada');
  await joinRoom(bob, server, room, 'Bob');
  const bobId = await peerId(bob);
  await Promise.all([
    waitForMediaFrom('Ada', ada, [bobId]),
    waitForMediaFrom('Bob', bob, [await peerId(ada)]),
  ]);
  return { ada, bob, bobId };
}

const button = (page, name) => page.getByRole('button', { name, exact: true });

// Regression: addTrack never reuses a line that has sent, so every share added an m-line until
// the offer outgrew the server's frame limit (about fifteen shares) and negotiation stopped.
test('screen sharing starts and stops: the other side gets a second picture and loses it; sharing again reuses its line', async () => {
  const { ada, bob } = await call('screen');
  const adaId = await peerId(ada);
  const share = button(ada, 'Share screen');
  const screenOnBob = () => bob.evaluate((id) => {
    const pc = window.__treff.peerConnections().get(id);
    const lines = pc.getTransceivers().filter((t) => t.receiver.track.kind === 'video').slice(1);
    return {
      receiving: lines.filter((t) => ['sendrecv', 'recvonly'].includes(t.currentDirection)).length,
      muted: lines.every((t) => t.receiver.track.muted),
      mLines: pc.currentRemoteDescription.sdp.match(/^m=/gm).length,
    };
  }, adaId);
  // Frames decoded on the screen lines (every video line after the camera's).
  const screenFrames = () => bob.evaluate(async (id) => {
    const pc = window.__treff.peerConnections().get(id);
    const lines = pc.getTransceivers().filter((t) => t.receiver.track.kind === 'video').slice(1);
    const mids = new Set(lines.map((t) => t.mid));
    let frames = 0;
    for (const s of (await pc.getStats()).values()) {
      if (s.type === 'inbound-rtp' && s.kind === 'video' && mids.has(s.mid)) frames += s.framesDecoded ?? 0;
    }
    return frames;
  }, adaId);

  for (let round = 1; round <= 3; round++) {
    await share.click();
    await waitFor('Ada to share', async () => (await share.getAttribute('aria-pressed')) === 'true');
    await waitForPresented(bob, 'Screen shared by Ada');
    const first = await waitFor('Bob to decode the screen', screenFrames);
    await waitFor('the screen to keep coming', async () => (await screenFrames()) > first + 3);
    assert.equal((await screenOnBob()).receiving, 1, 'one line carries the screen');

    await share.click();
    await waitFor('the screen tile to go away', async () => (await bob.getByLabel('Screen shared by Ada').count()) === 0);
    assert.equal(await share.getAttribute('aria-pressed'), 'false');
    await waitFor('the screen line to stop receiving', async () => {
      const s = await screenOnBob();
      return s.receiving === 0 && s.muted;
    });
    const stopped = await screenFrames();
    await sleep(700);
    assert.equal(await screenFrames(), stopped, 'no screen frames after sharing stopped');
    // Audio, camera and one screen line, however often the screen was shared.
    assert.equal((await screenOnBob()).mLines, 3, `m-lines after share ${round}`);
  }
  // The camera went on throughout.
  await waitForPresented(bob, 'Video of Ada');
  await Promise.all([ada.close(), bob.close()]);
});
