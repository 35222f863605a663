// What a person sees when things go wrong: a refusal by the server, a denied camera, a network
// blip (the page resumes its place and keeps its calls) and a server restart in the middle of a
// call (the pages rejoin by themselves and the call comes back). mixed.test.js has the blip and
// the restart with one page in each browser.
import assert from 'node:assert/strict';
import {
  eachBrowser, joinAs, joinRoom, newPage, peerId, setUp, tileOf, waitFor, waitForVideo,
} from './helpers.js';
import { networkBlip, serverRestart } from './scenarios.js';

eachBrowser("a full room shows the server's message on the join page", async (t, kind) => {
  const { server, browser } = await setUp(t, { name: `full-${kind}`, args: ['--room-capacity', '1'], browsers: [kind] });
  const ada = await newPage(browser, 'ada');
  const bob = await newPage(browser, 'bob');
  await joinRoom(ada, server, 'small', 'Ada');

  await bob.goto(`${server.url}/room/small`);
  await joinAs(bob, 'Bob');
  const alert = bob.getByRole('alert').filter({ hasText: 'The room is full' });
  await alert.waitFor();
  assert.ok(await bob.getByRole('button', { name: 'Join', exact: true }).isVisible());
});

eachBrowser('with camera and microphone denied the page says so and still receives the others', async (t, kind) => {
  const { server, browsers: [denying, granting] } = await setUp(t, {
    name: `denied-${kind}`,
    browsers: [{ browser: kind, grantMedia: false }, kind],
  });
  const ada = await newPage(denying, 'ada');
  const bob = await newPage(granting, 'bob');

  await ada.goto(`${server.url}/room/denied`);
  await joinAs(ada, 'Ada');
  await ada.getByRole('alert').filter({ hasText: 'denied' }).waitFor();
  await waitFor('Ada to be welcomed anyway', () => peerId(ada));
  assert.ok(await ada.getByRole('button', { name: 'Camera', exact: true }).isDisabled());
  assert.equal(await ada.getByRole('button', { name: 'Microphone', exact: true }).getAttribute('aria-pressed'), 'false');

  // Bob joins later, so Bob offers to a peer that sends nothing; Ada must still get his media.
  await bob.goto(`${server.url}/room/denied`);
  await joinAs(bob, 'Bob');
  await waitForVideo('Ada', ada);
  await tileOf(bob, 'Ada').locator('.placeholder').waitFor();
});

eachBrowser('after a server restart both pages rejoin and the call resumes', async (t, kind) => {
  const { server, browser } = await setUp(t, { name: `restart-${kind}`, browsers: [kind] });
  const ada = await newPage(browser, 'ada');
  const bob = await newPage(browser, 'bob');
  await joinRoom(ada, server, 'restart', 'Ada');
  await joinRoom(bob, server, 'restart', 'Bob');
  await Promise.all([waitForVideo('Ada', ada), waitForVideo('Bob', bob)]);
  const restarted = await serverRestart({ server, pages: [ada, bob], names: ['Ada', 'Bob'], name: `restart-${kind}-2` });
  t.after(() => restarted.stop());
});

eachBrowser('a network blip resumes the same peer id and keeps the call; others see "Reconnecting…"', async (t, kind) => {
  const { server, browser } = await setUp(t, { name: `blip-${kind}`, browsers: [kind] });
  const ada = await newPage(browser, 'ada');
  const bob = await newPage(browser, 'bob');
  await joinRoom(ada, server, 'blip', 'Ada');
  await joinRoom(bob, server, 'blip', 'Bob');
  await Promise.all([waitForVideo('Ada', ada), waitForVideo('Bob', bob)]);
  await networkBlip({ server, ada, bob });
});
