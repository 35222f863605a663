// A person's own media during a call: microphone and camera off and on, screen sharing, and a
// switch to another camera or microphone, each checked on the other side in the DOM and in
// getStats(). The browser offers three fake cameras and three fake microphones.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  events, frameLuma, joinRoom, launchBrowser, negotiationState, newPage, peerId, presentedFrames,
  receivedByPeer, sleep, startServer, waitFor, waitForMediaFrom, waitForPresented,
} from './helpers.js';

let server;
let browser;

before(async () => {
  server = await startServer({ name: 'media' });
  browser = await launchBrowser({ cameras: 3 });
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
const tileOf = (page, name) => page.locator(`figure.tile:has(video[aria-label="Video of ${name}"])`);

/** Video bytes per second `page` receives from `peer`, measured over `ms`. */
async function videoRate(page, peer, ms = 1000) {
  const first = (await receivedByPeer(page))[peer].video.bytesReceived;
  await sleep(ms);
  return ((await receivedByPeer(page))[peer].video.bytesReceived - first) * 1000 / ms;
}

/** Everything that would change if a renegotiation happened. */
async function negotiationSnapshot(pages) {
  return Promise.all(pages.map(async (page) => ({
    state: await negotiationState(page),
    offers: (await events(page)).filter((e) => e.name === 'offer-sent' || e.name === 'offer-received').length,
  })));
}

test('camera and microphone off and on: the other side is told, gets black frames and silence, and nothing is renegotiated', async () => {
  const { ada, bob, bobId } = await call('toggles');
  const bobTile = tileOf(ada, 'Bob');
  const negotiationBefore = await negotiationSnapshot([ada, bob]);
  const rateOn = await videoRate(ada, bobId);

  await button(bob, 'Camera').click();
  await button(bob, 'Microphone').click();
  assert.equal(await button(bob, 'Camera').getAttribute('aria-pressed'), 'false');
  assert.equal(await button(bob, 'Microphone').getAttribute('aria-pressed'), 'false');

  // The remote tile shows the initial instead of the picture, and says both are off.
  await bobTile.locator('.placeholder').waitFor();
  await bobTile.getByText('camera off', { exact: true }).waitFor({ state: 'attached' });
  await bobTile.getByText('microphone off', { exact: true }).waitFor({ state: 'attached' });

  // A disabled camera track keeps its sender and sends black frames: Chromium keeps the frame
  // rate (so framesDecoded goes on rising), but the picture is black and the bitrate collapses.
  await waitFor('the frames of Bob to turn black', async () => {
    const luma = await frameLuma(ada, 'Video of Bob');
    return luma && luma.mean < 40 && luma.spread < 3 && luma;
  });
  const rateOff = await videoRate(ada, bobId);
  assert.ok(rateOff < rateOn / 4, `video bitrate while off (${rateOff} B/s) must collapse from ${rateOn} B/s`);
  // A disabled microphone sends silence: packets keep coming, the level is zero.
  const packets = (await receivedByPeer(ada))[bobId].audio.packetsReceived;
  for (let i = 0; i < 8; i++) {
    await sleep(150);
    const { audioLevel } = (await receivedByPeer(ada))[bobId].audio;
    assert.ok(audioLevel < 0.001, `Bob's microphone is off but Ada hears level ${audioLevel}`);
  }
  assert.ok((await receivedByPeer(ada))[bobId].audio.packetsReceived > packets, 'silence still arrives as packets');

  await button(bob, 'Camera').click();
  await button(bob, 'Microphone').click();
  await waitFor('the placeholder to go away', async () => (await bobTile.locator('.placeholder').count()) === 0);
  assert.equal(await bobTile.getByText('camera off', { exact: true }).count(), 0);
  assert.equal(await bobTile.getByText('microphone on', { exact: true }).count(), 1);
  await waitFor('the picture of Bob to come back', async () => {
    const luma = await frameLuma(ada, 'Video of Bob');
    return luma && luma.spread > 10;
  });
  await waitFor('Bob to be heard again', async () => (await receivedByPeer(ada))[bobId].audio.audioLevel > 0.01);

  // Neither side sent or received an offer, and the negotiated descriptions are the same.
  assert.deepEqual(await negotiationSnapshot([ada, bob]), negotiationBefore, 'turning media off and on must not renegotiate');
  await Promise.all([ada.close(), bob.close()]);
});

// Regression: addTrack never reuses a line that has sent, so every share added an m-line until
// the offer outgrew the server's frame limit (about fifteen shares) and negotiation stopped.
test('screen sharing starts and stops: the other side gets a second picture and loses it; sharing again reuses its line', async () => {
  const { ada, bob } = await call('screen');
  const adaId = await peerId(ada);
  const share = button(ada, 'Share screen');
  const screenOnBob = () => bob.evaluate((id) => {
    const pc = window.__treff.connections().get(`mesh/${id}`);
    const lines = pc.getTransceivers().filter((t) => t.receiver.track.kind === 'video').slice(1);
    return {
      receiving: lines.filter((t) => ['sendrecv', 'recvonly'].includes(t.currentDirection)).length,
      muted: lines.every((t) => t.receiver.track.muted),
      mLines: pc.currentRemoteDescription.sdp.match(/^m=/gm).length,
    };
  }, adaId);
  // Frames decoded on the screen lines (every video line after the camera's).
  const screenFrames = () => bob.evaluate(async (id) => {
    const pc = window.__treff.connections().get(`mesh/${id}`);
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

test('switching to another camera and microphone keeps the call going without renegotiating', async () => {
  const { ada, bob, bobId } = await call('devices');
  const sent = (kind) => bob.evaluate((kind) => {
    const [pc] = [...window.__treff.connections().values()];
    const track = pc.getSenders().map((s) => s.track).find((t) => t && t.kind === kind);
    return track && { id: track.id, device: track.getSettings().deviceId, label: track.label };
  }, kind);
  const negotiationBefore = await negotiationSnapshot([ada, bob]);

  for (const [select, kind] of [['Camera source', 'video'], ['Microphone source', 'audio']]) {
    const picker = bob.getByLabel(select);
    const options = await picker.locator('option').evaluateAll((os) => os.map((o) => ({ id: o.value, label: o.textContent })));
    assert.ok(options.length >= 3, `${select} must offer Chromium's three fake devices, got ${options.length}`);
    const before = await sent(kind);
    const current = await picker.inputValue();
    assert.equal(current, before.device, `${select} shows the device in use`);
    // Chromium's second fake camera delivers frames its video encoder never encodes (a depth
    // format), so the switch goes to the third, an ordinary camera like the first.
    const other = kind === 'video'
      ? options.find((o) => o.label === 'fake_device_2').id
      : options.find((o) => o.id !== current && o.id !== 'default').id;
    await picker.selectOption(other);
    await waitFor(`Bob to send from the other ${kind} device`, async () => {
      const now = await sent(kind);
      return now && now.device === other && now.id !== before.id;
    });
    assert.equal(await picker.inputValue(), other);
  }

  // Ada keeps seeing and hearing Bob, on the same connection, without a new offer.
  await waitForMediaFrom('Ada', ada, [bobId]);
  await waitForPresented(ada, 'Video of Bob');
  assert.ok((await presentedFrames(ada, 'Video of Bob')) > 0);
  assert.deepEqual(await negotiationSnapshot([ada, bob]), negotiationBefore, 'a device switch must not renegotiate');
  await Promise.all([ada.close(), bob.close()]);
});
