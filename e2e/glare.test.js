// Glare: both sides of a call start a renegotiation at the same moment (both press "Share screen"
// in the same millisecond, or a few milliseconds apart). Perfect negotiation must settle it: one
// side rolls back its offer, the other ignores the incoming one, both end `stable`, and every
// picture and sound keeps playing. mixed.test.js has the same collision between Firefox and
// Chromium.
import assert from 'node:assert/strict';
import {
  call, clickTogether, eachBrowser, setUp,
} from './helpers.js';
import {
  FIREFOX_COLLISION_FREEZE, negotiated, screenLines, shareCollisions, showing,
} from './scenarios.js';

// Known bug: now and then (about one collision in 30 between two Firefox pages, one in 50 with
// Chromium) the Firefox page's receiver of a line gets no more packets after a collision (no
// inbound-rtp for it, or a new receiver track that stops after a few packets while the tile keeps
// the old one), so a camera or a screen stops at its last frame. The test still runs and reports
// it, as a TODO until that is fixed.
eachBrowser('both press "Share screen" at the same moment: the collision settles and nothing freezes', async (t, name) => {
  const { server, browser } = await setUp(t, { name: `glare-${name}`, browsers: [name] });
  const { pages } = await call(server, 'glare', browser);
  await shareCollisions({ pages, names: ['Ada', 'Bob'], what: `glare (${name})` });
}, { firefox: { todo: FIREFOX_COLLISION_FREEZE } });

// Regression: signals were handled concurrently, so an offer that arrived while the answer to our
// own offer was still being applied looked like a collision and was ignored; the other side then
// waited for an answer forever and every later offer of either side was ignored too.
eachBrowser('presses a few milliseconds apart (0 to 150 ms) never leave the negotiation stuck', async (t, name) => {
  const { server, browser } = await setUp(t, { name: `glare-${name}`, browsers: [name] });
  const { pages } = await call(server, 'stagger', browser);
  const press = (offsets) => clickTogether(pages, 'Share screen', { delayMs: 200, offsets });
  for (let ms = 0; ms <= 150; ms += 10) {
    await press([0, ms]);
    await negotiated(pages, [true, true], `with both sharing, Bob pressing ${ms} ms after Ada`);
    await press([ms, 0]);
    await negotiated(pages, [false, false], `with nobody sharing, Ada pressing ${ms} ms after Bob`);
  }
  const lines = await Promise.all(pages.map(screenLines));
  assert.ok(lines.every((l) => l.mLines <= 3), `audio, camera and one screen line, not ${lines.map((l) => l.mLines)}`);
  await clickTogether(pages, 'Share screen');
  await negotiated(pages, [true, true], 'after the sweep');
  await showing(pages, ['Ada', 'Bob'], [true, true]);
  // 32 collisions in Firefox: the known freeze above shows up in about one run in two.
}, { firefox: { todo: FIREFOX_COLLISION_FREEZE } });
