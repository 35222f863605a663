// Two-person call in real headless Chromium and Firefox against the real treff server.
//
// Both pages use the browser's fake camera and microphone; the assertions read real
// RTCPeerConnection.getStats() through the app's tiny window.__treff hook. Run it through
// scripts/test-browser.sh, which puts the server and the browser in a network namespace that only
// has loopback.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  RESULTS, SCREENSHOTS, eachBrowser, framesDecoded, inboundStats, joinAs, newPage, openChat, peerId,
  setUp, sleep, waitFor, waitForVideo,
} from './helpers.js';

const ROOM = 'e2e-room';

eachBrowser('two people see and hear each other and chat', async (t, name) => {
  const { server, browser } = await setUp(t, { name: `call-${name}`, browsers: [name] });
  // The README's pictures are Chromium's; the other browser's go with the test results.
  const shots = name === 'chromium' ? SCREENSHOTS : join(RESULTS, 'screenshots');
  const shot = (what) => join(shots, name === 'chromium' ? `${what}.png` : `${what}-${name}.png`);
  mkdirSync(shots, { recursive: true });
  const ada = await newPage(browser, 'ada');
  const bob = await newPage(browser, 'bob');

  await ada.goto(`${server.url}/`);
  await ada.getByLabel('Room', { exact: true }).fill(ROOM);
  await ada.getByLabel('Your name').fill('Ada');
  await ada.screenshot({ path: shot('join') });
  await joinAs(ada, 'Ada');
  await ada.waitForURL(`**/room/${ROOM}`);
  await waitFor('Ada to be welcomed', () => peerId(ada));

  // A deep link prefills the room.
  await bob.goto(`${server.url}/room/${ROOM}`);
  assert.equal(await bob.getByLabel('Room', { exact: true }).inputValue(), ROOM);
  const joinedAt = Date.now();
  await joinAs(bob, 'Bob');

  // Each side decodes the other's video, and the count keeps rising.
  await Promise.all([
    waitFor('Ada to decode video', () => framesDecoded(ada)),
    waitFor('Bob to decode video', () => framesDecoded(bob)),
  ]);
  const firstFrameMs = Date.now() - joinedAt;
  await Promise.all([waitForVideo('Ada', ada), waitForVideo('Bob', bob)]);

  // Audio arrives with a real level (the fake microphone beeps).
  for (const [who, page] of [['Ada', ada], ['Bob', bob]]) {
    await waitFor(`${who} to receive audible audio`, async () => {
      const audio = (await inboundStats(page)).find((s) => s.kind === 'audio');
      return audio && audio.packetsReceived > 0 && audio.audioLevel > 0;
    });
  }
  console.log(`${name}: first frames decoded on both sides ${firstFrameMs} ms after Bob pressed Join`);

  // Each remote video is named after its participant; the controls say what is on.
  await ada.getByLabel('Video of Bob').waitFor();
  await bob.getByLabel('Video of Ada').waitFor();
  const pressed = (page, label) => page.getByRole('button', { name: label, exact: true }).getAttribute('aria-pressed');
  assert.equal(await pressed(ada, 'Microphone'), 'true');
  assert.equal(await pressed(ada, 'Camera'), 'true');
  assert.equal(await pressed(ada, 'Share screen'), 'false');

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
  await ada.screenshot({ path: shot('call') });

  // Leaving closes the connection on both sides.
  await bob.getByRole('button', { name: 'Leave', exact: true }).click();
  await waitFor('Bob to close his connections', () => bob.evaluate(() => window.__treff.connections().size === 0));
  await waitFor('Ada to drop Bob', () => ada.evaluate(() => window.__treff.connections().size === 0));
  await bob.getByRole('button', { name: 'Join', exact: true }).waitFor();
});
