// A person's own media during a call: microphone and camera off and on, screen sharing, and a
// switch to another camera or microphone, each checked on the other side in the DOM and in
// getStats(). Chromium offers three fake cameras and three fake microphones, Firefox one of each
// (so there the switch picks the same device again; see deviceSwitch). Firefox shares an animated
// canvas instead of the screen, which headless Firefox cannot capture (see helpers.js).
import {
  call, eachBrowser, setUp,
} from './helpers.js';
import { deviceSwitch, mediaToggles, screenShares } from './scenarios.js';

eachBrowser('camera and microphone off and on: the other side is told, gets black frames and silence, and nothing is renegotiated', async (t, name) => {
  const { server, browser } = await setUp(t, { name: `media-${name}`, browsers: [name] });
  const { ada, bob, bobId } = await call(server, 'toggles', browser);
  await mediaToggles({ watcher: ada, actor: bob, actorName: 'Bob', actorId: bobId });
});

eachBrowser('screen sharing starts and stops: the other side gets a second picture and loses it; sharing again reuses its line', async (t, name) => {
  const { server, browser } = await setUp(t, { name: `media-${name}`, browsers: [name] });
  const { ada, bob, adaId } = await call(server, 'screen', browser);
  await screenShares({ sharer: ada, sharerName: 'Ada', sharerId: adaId, viewer: bob });
});

eachBrowser('switching camera and microphone (to another device; Firefox, which has one of each, reopens it) keeps the call going without renegotiating', async (t, name) => {
  const { server, browser } = await setUp(t, { name: `media-${name}`, browsers: [{ browser: name, cameras: 3 }] });
  const { ada, bob, bobId } = await call(server, 'devices', browser);
  await deviceSwitch({ switcher: bob, switcherName: 'Bob', switcherId: bobId, watcher: ada, watcherName: 'Ada' });
});
