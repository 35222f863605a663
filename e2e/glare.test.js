// Glare: both sides of a call start a renegotiation at the same moment (both press "Share screen"
// in the same millisecond, or a few milliseconds apart). Perfect negotiation must settle it: one
// side rolls back its offer, the other ignores the incoming one, both end `stable`, and every
// picture and sound keeps playing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  clickTogether, events, joinRoom, launchBrowser, newPage, peerId, playedAudioPeak, startServer,
  waitFor, waitForMediaFrom, waitForPresented,
} from './helpers.js';

let server;
let browser;

before(async () => {
  server = await startServer({ name: 'glare' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
});

/** Ada and Bob in a call, each receiving the other. */
async function call(room) {
  const ada = await newPage(browser, 'ada');
  const bob = await newPage(browser, 'bob');
  await joinRoom(ada, server, room, 'Ada');
  await joinRoom(bob, server, room, 'Bob');
  await Promise.all([
    waitForMediaFrom('Ada', ada, [await peerId(bob)]),
    waitForMediaFrom('Bob', bob, [await peerId(ada)]),
  ]);
  return [ada, bob];
}

/**
 * The negotiated screen lines of a page's one connection: whether it is `stable`, sends a screen
 * and receives one (the current, i.e. negotiated, direction of the video lines after the camera's).
 */
function screenLines(page) {
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
async function negotiated(pages, sharing, what) {
  await waitFor(`both connections to settle ${what}`, async () => {
    const lines = await Promise.all(pages.map(screenLines));
    return lines.every((l, i) => l.stable && l.sending === sharing[i] && l.receiving === sharing[1 - i]) && lines;
  });
}

/** What the person sees: the other's camera and (while shared) screen present new frames. */
async function showing(pages, names, sharing) {
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

async function collisions(pages) {
  const all = (await Promise.all(pages.map((p) => events(p)))).flat();
  return {
    rollbacks: all.filter((e) => e.name === 'rollback').length,
    ignored: all.filter((e) => e.name === 'offer-ignored').length,
  };
}

// Regression: the polite side used to be fixed by join order. Chromium loses the remote tracks
// of a connection that rolls back an offer right after answering one, so the earlier joiner's
// view of the other froze and went silent after the first collision.
test('both press "Share screen" at the same moment: the collision settles and nothing freezes', async () => {
  const pages = await call('glare');
  const [ada, bob] = pages;
  const names = ['Ada', 'Bob'];
  const attempts = 3;
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
  await ada.getByRole('button', { name: 'Share screen', exact: true }).click();
  await negotiated(pages, [true, false], 'with Ada sharing');
  await clickTogether(pages, 'Share screen');
  await negotiated(pages, [false, true], 'with Bob sharing');
  await showing(pages, names, [false, true]);

  const { rollbacks, ignored } = await collisions(pages);
  console.log(`glare: ${rollbacks} rollbacks and ${ignored} ignored offers in ${2 * attempts + 1} simultaneous presses`);
  assert.ok(rollbacks >= 1, 'the simultaneous presses must have collided at least once');
  assert.equal(rollbacks, ignored, 'in each collision one side yields and the other does not');

  // The sound survives too: a connection that loses its remote tracks loses it with the picture.
  for (const [page, other] of [[ada, 'Bob'], [bob, 'Ada']]) {
    const peak = await playedAudioPeak(page, `Video of ${other}`);
    assert.ok(peak > 0.05, `the sound of ${other} must still play on the other side (peak ${peak.toFixed(3)})`);
  }
  await Promise.all(pages.map((p) => p.close()));
});

// Regression: signals were handled concurrently, so an offer that arrived while the answer to our
// own offer was still being applied looked like a collision and was ignored; the other side then
// waited for an answer forever and every later offer of either side was ignored too.
test('presses a few milliseconds apart (0 to 150 ms) never leave the negotiation stuck', async () => {
  const pages = await call('stagger');
  const [ada, bob] = pages;
  const pressAt = async (offsets) => {
    const at = Date.now() + 200;
    await Promise.all(pages.map((page, i) => page.evaluate(([at]) => new Promise((resolve) => {
      const share = [...document.querySelectorAll('button')].find((b) => b.textContent.trim() === 'Share screen');
      setTimeout(() => { share.click(); resolve(); }, at - (performance.timeOrigin + performance.now()));
    }), [at + offsets[i]])));
  };
  for (let ms = 0; ms <= 150; ms += 10) {
    await pressAt([0, ms]);
    await negotiated(pages, [true, true], `with both sharing, Bob pressing ${ms} ms after Ada`);
    await pressAt([ms, 0]);
    await negotiated(pages, [false, false], `with nobody sharing, Ada pressing ${ms} ms after Bob`);
  }
  const lines = await Promise.all(pages.map(screenLines));
  assert.ok(lines.every((l) => l.mLines <= 3), `audio, camera and one screen line, not ${lines.map((l) => l.mLines)}`);
  await clickTogether(pages, 'Share screen');
  await negotiated(pages, [true, true], 'after the sweep');
  await showing(pages, ['Ada', 'Bob'], [true, true]);
  await Promise.all([ada.close(), bob.close()]);
});
