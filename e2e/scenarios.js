// What a person does during a call and what the other side must then see, written once for any
// pair of pages: the single-browser tests (media, glare, mesh, recovery) and the mixed
// Firefox–Chromium calls (mixed.test.js) run the same checks.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  browserName, clickTogether, events, frameLuma, negotiationState, peerId, playedAudioPeak,
  presentedFrames, receivedByPeer, sleep, startServer, tileOf, waitFor, waitForMediaFrom,
  waitForPresented, waitForVideo,
} from './helpers.js';

const button = (page, name) => page.getByRole('button', { name, exact: true });

/** Video bytes per second `page` receives from `peer`, measured over `ms`. */
async function videoRate(page, peer, ms = 1000) {
  const first = (await receivedByPeer(page))[peer].video.bytesReceived;
  await sleep(ms);
  return ((await receivedByPeer(page))[peer].video.bytesReceived - first) * 1000 / ms;
}

/** Everything that would change if a renegotiation happened. */
export async function negotiationSnapshot(pages) {
  return Promise.all(pages.map(async (page) => ({
    state: await negotiationState(page),
    offers: (await events(page)).filter((e) => e.name === 'offer-sent' || e.name === 'offer-received').length,
  })));
}

/**
 * A frame that is a picture, not the black of a disabled camera: Chromium's fake camera draws a
 * textured scene (spread), Firefox's a flat colour of mid luma (mean).
 */
const notBlack = (luma) => luma && (luma.spread > 10 || luma.mean > 60);

/**
 * `actor` turns camera and microphone off and on again; `watcher` is told, gets black frames and
 * silence meanwhile, gets picture and sound back, and neither side renegotiates.
 */
export async function mediaToggles({ watcher, actor, actorName, actorId }) {
  const tile = tileOf(watcher, actorName);
  const label = `Video of ${actorName}`;
  const negotiationBefore = await negotiationSnapshot([watcher, actor]);
  const rateOn = await videoRate(watcher, actorId);

  await button(actor, 'Camera').click();
  await button(actor, 'Microphone').click();
  assert.equal(await button(actor, 'Camera').getAttribute('aria-pressed'), 'false');
  assert.equal(await button(actor, 'Microphone').getAttribute('aria-pressed'), 'false');

  // The remote tile shows the initial instead of the picture, and says both are off.
  await tile.locator('.placeholder').waitFor();
  await tile.getByText('camera off', { exact: true }).waitFor({ state: 'attached' });
  await tile.getByText('microphone off', { exact: true }).waitFor({ state: 'attached' });

  // A disabled camera track keeps its sender and sends black frames: the picture is black and
  // the bitrate collapses (Chromium keeps the frame rate, Firefox drops it too).
  await waitFor(`the frames of ${actorName} to turn black`, async () => {
    const luma = await frameLuma(watcher, label);
    return luma && luma.mean < 40 && luma.spread < 3 && luma;
  });
  // The encoder needs a moment to settle on black (the first black frames still cost bits, and
  // on a busy machine `rateOn` was taken while the bitrate was still ramping up), so the
  // collapse is waited for, for a few seconds.
  await waitFor(`the video bitrate of ${actorName} to collapse to a quarter of ${rateOn} B/s`, async () => {
    const rateOff = await videoRate(watcher, actorId);
    if (rateOff < rateOn / 4) return true;
    throw new Error(`${rateOff} B/s while off`);
  }, 8000);
  // A disabled microphone sends silence: packets keep coming, the level is zero.
  const packets = (await receivedByPeer(watcher))[actorId].audio.packetsReceived;
  for (let i = 0; i < 8; i++) {
    await sleep(150);
    const { audioLevel } = (await receivedByPeer(watcher))[actorId].audio;
    assert.ok(audioLevel < 0.001, `the microphone of ${actorName} is off but level ${audioLevel} arrives`);
  }
  assert.ok((await receivedByPeer(watcher))[actorId].audio.packetsReceived > packets, 'silence still arrives as packets');

  await button(actor, 'Camera').click();
  await button(actor, 'Microphone').click();
  await waitFor('the placeholder to go away', async () => (await tile.locator('.placeholder').count()) === 0);
  assert.equal(await tile.getByText('camera off', { exact: true }).count(), 0);
  assert.equal(await tile.getByText('microphone on', { exact: true }).count(), 1);
  await waitFor(`the picture of ${actorName} to come back`, async () => notBlack(await frameLuma(watcher, label)));
  await waitFor(`${actorName} to be heard again`, async () => (await receivedByPeer(watcher))[actorId].audio.audioLevel > 0.01);

  // Neither side sent or received an offer, and the negotiated descriptions are the same.
  assert.deepEqual(await negotiationSnapshot([watcher, actor]), negotiationBefore, 'turning media off and on must not renegotiate');
}

/**
 * `sharer` shares the screen and stops, `rounds` times; `viewer` gets a second picture each time
 * and loses it, and the screen always goes on the same line (audio, camera, one screen line).
 */
// Regression: addTrack never reuses a line that has sent, so every share added an m-line until
// the offer outgrew the server's frame limit (about fifteen shares) and negotiation stopped.
export async function screenShares({ sharer, sharerName, sharerId, viewer, rounds = 3 }) {
  const share = button(sharer, 'Share screen');
  const label = `Screen shared by ${sharerName}`;
  const screenOnViewer = () => viewer.evaluate((id) => {
    const pc = window.__treff.connections().get(`mesh/${id}`);
    const lines = pc.getTransceivers().filter((t) => t.receiver.track.kind === 'video').slice(1);
    return {
      receiving: lines.filter((t) => ['sendrecv', 'recvonly'].includes(t.currentDirection)).length,
      muted: lines.every((t) => t.receiver.track.muted),
      mLines: pc.currentRemoteDescription.sdp.match(/^m=/gm).length,
    };
  }, sharerId);
  // Frames decoded on the screen lines (every video line after the camera's).
  const screenFrames = () => viewer.evaluate(async (id) => {
    const pc = window.__treff.connections().get(`mesh/${id}`);
    const lines = pc.getTransceivers().filter((t) => t.receiver.track.kind === 'video').slice(1);
    const mids = new Set(lines.map((t) => t.mid));
    let frames = 0;
    for (const s of (await pc.getStats()).values()) {
      if (s.type === 'inbound-rtp' && s.kind === 'video' && mids.has(s.mid)) frames += s.framesDecoded ?? 0;
    }
    return frames;
  }, sharerId);

  for (let round = 1; round <= rounds; round++) {
    await share.click();
    await waitFor(`${sharerName} to share`, async () => (await share.getAttribute('aria-pressed')) === 'true');
    await waitForPresented(viewer, label);
    const first = await waitFor('the screen to be decoded', screenFrames);
    await waitFor('the screen to keep coming', async () => (await screenFrames()) > first + 3);
    assert.equal((await screenOnViewer()).receiving, 1, 'one line carries the screen');

    await share.click();
    await waitFor('the screen tile to go away', async () => (await viewer.getByLabel(label).count()) === 0);
    assert.equal(await share.getAttribute('aria-pressed'), 'false');
    await waitFor('the screen line to stop receiving', async () => {
      const s = await screenOnViewer();
      return s.receiving === 0 && s.muted;
    });
    const stopped = await screenFrames();
    await sleep(700);
    assert.equal(await screenFrames(), stopped, 'no screen frames after sharing stopped');
    // Audio, camera and one screen line, however often the screen was shared.
    assert.equal((await screenOnViewer()).mLines, 3, `m-lines after share ${round}`);
  }
  // The camera went on throughout.
  await waitForPresented(viewer, `Video of ${sharerName}`);
}

/**
 * `switcher` picks another camera and another microphone; `watcher` keeps seeing and hearing
 * them on the same connection, without a new offer.
 *
 * Chromium (launched with `cameras: 3`) has three fake cameras and three fake microphones, so
 * the switch goes to a different device. Firefox has one fake camera and one fake microphone:
 * there the person picks the device again, which reopens it and replaces the sent track just
 * the same (a new track from the same device).
 */
export async function deviceSwitch({ switcher, switcherName, switcherId, watcher, watcherName }) {
  const firefox = browserName(switcher) === 'firefox';
  const sent = (kind) => switcher.evaluate((kind) => {
    const [pc] = [...window.__treff.connections().values()];
    const track = pc.getSenders().map((s) => s.track).find((t) => t && t.kind === kind);
    return track && { id: track.id, device: track.getSettings().deviceId, label: track.label };
  }, kind);
  const negotiationBefore = await negotiationSnapshot([watcher, switcher]);

  for (const [select, kind] of [['Camera source', 'video'], ['Microphone source', 'audio']]) {
    const picker = switcher.getByLabel(select);
    const options = await picker.locator('option').evaluateAll((os) => os.map((o) => ({ id: o.value, label: o.textContent })));
    const expected = firefox ? 1 : 3;
    assert.ok(options.length >= expected, `${select} must offer the browser's ${expected} fake devices, got ${options.length}`);
    const before = await sent(kind);
    const current = await picker.inputValue();
    assert.equal(current, before.device, `${select} shows the device in use`);
    let other;
    if (firefox) {
      other = current;
    } else if (kind === 'video') {
      // Chromium's second fake camera delivers frames its video encoder never encodes (a depth
      // format), so the switch goes to the third, an ordinary camera like the first.
      other = options.find((o) => o.label === 'fake_device_2').id;
    } else {
      other = options.find((o) => o.id !== current && o.id !== 'default').id;
    }
    await picker.selectOption(other);
    await waitFor(`${switcherName} to send from the picked ${kind} device`, async () => {
      const now = await sent(kind);
      return now && now.device === other && now.id !== before.id;
    });
    assert.equal(await picker.inputValue(), other);
  }

  // The other side keeps seeing and hearing, on the same connection, without a new offer.
  await waitForMediaFrom(watcherName, watcher, [switcherId]);
  await waitForPresented(watcher, `Video of ${switcherName}`);
  assert.ok((await presentedFrames(watcher, `Video of ${switcherName}`)) > 0);
  assert.deepEqual(await negotiationSnapshot([watcher, switcher]), negotiationBefore, 'a device switch must not renegotiate');
}

/**
 * The negotiated screen lines of a page's one connection: whether it is `stable`, sends a screen
 * and receives one (the current, i.e. negotiated, direction of the video lines after the camera's).
 */
export function screenLines(page) {
  return page.evaluate(() => {
    const [pc] = [...window.__treff.connections().values()];
    const video = pc.getTransceivers().filter((t) => t.receiver.track.kind === 'video');
    const screens = video.slice(1);
    return {
      stable: pc.signalingState === 'stable',
      sending: screens.some((t) => t.sender.track && ['sendrecv', 'sendonly'].includes(t.currentDirection)),
      receiving: screens.some((t) => ['sendrecv', 'recvonly'].includes(t.currentDirection)),
      mLines: (pc.currentLocalDescription?.sdp.match(/^m=/gm) ?? []).length,
    };
  });
}

/** Waits until both pages negotiated the expected screens: `sharing[i]` says whether page i shares. */
export async function negotiated(pages, sharing, what) {
  await waitFor(`both connections to settle ${what}`, async () => {
    const lines = await Promise.all(pages.map(screenLines));
    return lines.every((l, i) => l.stable && l.sending === sharing[i] && l.receiving === sharing[1 - i]) && lines;
  });
}

/** What the person sees: the other's camera and (while shared) screen present new frames. */
export async function showing(pages, names, sharing) {
  for (const [i, page] of pages.entries()) {
    const other = names[1 - i];
    // A frozen camera is the failure to catch: the decoder may go on while the picture stands still.
    await waitForPresented(page, `Video of ${other}`);
    if (sharing[1 - i]) {
      await waitForPresented(page, `Screen shared by ${other}`);
    } else {
      await waitFor(`the screen of ${other} to go away`, async () => (await page.getByLabel(`Screen shared by ${other}`).count()) === 0);
    }
  }
}

/** Rollbacks and ignored offers the pages recorded: the two halves of a settled collision. */
export async function collisions(pages) {
  const all = (await Promise.all(pages.map((p) => events(p)))).flat();
  return {
    rollbacks: all.filter((e) => e.name === 'rollback').length,
    ignored: all.filter((e) => e.name === 'offer-ignored').length,
  };
}

/** The known bug that shareCollisions catches in Firefox (see glare.test.js). */
export const FIREFOX_COLLISION_FREEZE = 'known bug: after a collision a Firefox receiver now and '
  + 'then gets no more packets and its picture stops';

/**
 * Both people press "Share screen" at the same moment, `attempts` times to start and to stop,
 * then once crossed (Bob starts while Ada stops): every collision settles with one side yielding,
 * both connections end stable with the expected screens, and picture and sound keep playing.
 */
// Regression: the polite side used to be fixed by join order. Chromium loses the remote tracks
// of a connection that rolls back an offer right after answering one, so the earlier joiner's
// view of the other froze and went silent after the first collision.
export async function shareCollisions({ pages, names, attempts = 3, what = 'glare' }) {
  const [ada, bob] = pages;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    // Both start sharing, then both stop: two chances to collide per attempt.
    await clickTogether(pages, 'Share screen');
    await negotiated(pages, [true, true], `with both sharing (attempt ${attempt})`);
    await showing(pages, names, [true, true]);
    await clickTogether(pages, 'Share screen');
    await negotiated(pages, [false, false], `with nobody sharing (attempt ${attempt})`);
    await showing(pages, names, [false, false]);
  }
  // Crossed: Bob starts while Ada stops, at the same moment.
  await button(ada, 'Share screen').click();
  await negotiated(pages, [true, false], `with ${names[0]} sharing`);
  await clickTogether(pages, 'Share screen');
  await negotiated(pages, [false, true], `with ${names[1]} sharing`);
  await showing(pages, names, [false, true]);

  const { rollbacks, ignored } = await collisions(pages);
  console.log(`${what}: ${rollbacks} rollbacks and ${ignored} ignored offers in ${2 * attempts + 1} simultaneous presses`);
  assert.ok(rollbacks >= 1, 'the simultaneous presses must have collided at least once');
  assert.equal(rollbacks, ignored, 'in each collision one side yields and the other does not');

  // The sound survives too: a connection that loses its remote tracks loses it with the picture.
  for (const [page, other] of [[ada, names[1]], [bob, names[0]]]) {
    const peak = await playedAudioPeak(page, `Video of ${other}`);
    assert.ok(peak > 0.05, `the sound of ${other} must still play on the other side (peak ${peak.toFixed(3)})`);
  }
}

/**
 * `ada`'s browser goes offline and the kernel tears down every signaling socket to the server
 * (as a broken network would; media keeps flowing peer to peer). `bob` shows her as
 * "Reconnecting…", she is told and retries; back online she resumes with the same peer id and
 * the same RTCPeerConnection, and both keep receiving.
 */
export async function networkBlip({ server, ada, adaName = 'Ada', bob, bobName = 'Bob' }) {
  const adaId = await peerId(ada);
  await ada.evaluate(() => { window.keptConnection = [...window.__treff.connections().values()][0]; });

  await ada.context().setOffline(true);
  const killed = execFileSync('ss', ['-K', '-tn', 'dst', '127.0.0.1', 'dport', '=', `:${server.port}`], { encoding: 'utf8' });
  // ss names the sockets it destroyed. Without the kernel's socket destroy support
  // (CONFIG_INET_DIAG_DESTROY) or without CAP_NET_ADMIN it destroys none, the blip cannot be made,
  // and the scenario is not tested: a failure, not a skip.
  assert.ok(
    killed.includes('127.0.0.1'),
    `ss -K destroyed no socket to the server (port ${server.port}): this kernel or user cannot `
      + 'destroy sockets (it needs CONFIG_INET_DIAG_DESTROY and CAP_NET_ADMIN), so the network '
      + `blip cannot be made; ss printed: ${JSON.stringify(killed)}`,
  );
  const adaTile = tileOf(bob, adaName);
  await adaTile.getByText('Reconnecting…').waitFor();
  await ada.getByRole('status').filter({ hasText: 'Retrying in' }).waitFor();

  await ada.context().setOffline(false);
  await waitFor(`${adaName} to be back`, async () => (await adaTile.getByText('Reconnecting…').count()) === 0, 20000);
  assert.equal(await peerId(ada), adaId, 'the resume token gives the same peer id back');
  assert.ok(
    await ada.evaluate(() => window.keptConnection === [...window.__treff.connections().values()][0]),
    'the peer connection survives a resume',
  );
  await Promise.all([waitForVideo(adaName, ada), waitForVideo(bobName, bob)]);
}

/**
 * The server stops in the middle of the call of `pages` and comes back on the same port: the
 * pages say so, rejoin by themselves with new ids, and the call comes back with exactly one
 * connection each and no stale tile. Returns the new server (the caller stops it).
 */
export async function serverRestart({ server, pages, names, name }) {
  const [ada, bob] = pages;
  const before = [await peerId(ada), await peerId(bob)];

  await server.stop();
  // The person is told, and the page keeps trying.
  await ada.getByRole('status').filter({ hasText: /server/i }).first().waitFor();

  const restarted = await startServer({ name, port: server.port });
  try {
    // The new server does not know the old resume tokens: new ids, new connections.
    await waitFor('both pages to rejoin with new ids', async () => {
      const [a, b] = [await peerId(ada), await peerId(bob)];
      return a && b && a !== before[0] && b !== before[1];
    }, 30000);
    await waitFor('exactly one connection per page, to the new id', async () => {
      const ids = await Promise.all(pages.map((p) => p.evaluate(() => [...window.__treff.connections().keys()].map((k) => k.replace(/^mesh\//, '')))));
      return ids[0].length === 1 && ids[1].length === 1
        && ids[0][0] === (await peerId(bob)) && ids[1][0] === (await peerId(ada));
    });
    await Promise.all([waitForVideo(names[0], ada), waitForVideo(names[1], bob)]);
    assert.equal(await ada.getByLabel(`Video of ${names[1]}`).count(), 1, `no stale tile of the old ${names[1]}`);
    assert.equal(await bob.getByLabel(`Video of ${names[0]}`).count(), 1, `no stale tile of the old ${names[0]}`);
  } catch (err) {
    await restarted.stop();
    throw err;
  }
  return restarted;
}
