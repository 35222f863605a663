// Who may join and what moderators and viewers can do, in real headless Chromium and Firefox
// against the real server: a room password, a moderator's lock, mute request, removal and end of
// the room, and invitation tokens with a viewer who only receives.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  TREFF_BIN, eachBrowser, inboundStats, joinAs, newPage, peerId, setUp, sleep, tileOf, waitFor,
  waitForVideo,
} from './helpers.js';

const joinButton = (page) => page.getByRole('button', { name: 'Join', exact: true });
const focusedId = (page) => page.evaluate(() => document.activeElement?.id ?? null);
const focusedText = (page) => page.evaluate(() => document.activeElement?.textContent ?? null);
const connectionCount = (page) => page.evaluate(() => window.__treff.connections().size);
const micPressed = (page) => page.getByRole('button', { name: 'Microphone', exact: true }).getAttribute('aria-pressed');

/** Outbound RTP stats of every connection of a page. */
function outboundStats(page) {
  return page.evaluate(async () => {
    const out = [];
    for (const [connection, pc] of window.__treff.connections()) {
      for (const s of (await pc.getStats()).values()) {
        if (s.type === 'outbound-rtp') out.push({ connection, kind: s.kind, packetsSent: s.packetsSent ?? 0 });
      }
    }
    return out;
  });
}

/**
 * The directions of every m-line this page wrote in its session descriptions (media sections
 * only: Firefox also writes a session-level default that every section overrides).
 */
function localDirections(page) {
  return page.evaluate(() => [...window.__treff.connections().values()].flatMap((pc) => {
    const sdp = pc.localDescription?.sdp ?? '';
    const media = sdp.slice(Math.max(0, sdp.indexOf('\nm=')));
    return media.match(/^a=(sendrecv|sendonly|recvonly|inactive)/gm) ?? [];
  }));
}

eachBrowser('a room password keeps out whoever does not know it', async (t, kind) => {
  const { server, browser } = await setUp(t, { name: `password-${kind}`, browsers: [kind] });
  const ada = await newPage(browser, 'ada');
  const bob = await newPage(browser, 'bob');

  // The creator sets the password.
  await ada.goto(`${server.url}/room/vault`);
  await ada.getByLabel('Room password').fill('north star');
  await joinAs(ada, 'Ada');
  await waitFor('Ada to be welcomed', () => peerId(ada));

  // Without it: the server's message on the join page, the cursor in the password field, and
  // no retry behind the person's back.
  await bob.goto(`${server.url}/room/vault`);
  assert.equal(await bob.getByLabel('Room password').getAttribute('type'), 'password');
  await joinAs(bob, 'Bob');
  await bob.getByRole('alert').filter({ hasText: 'This room has a password' }).waitFor();
  await waitFor('the password field to get the focus', async () => (await focusedId(bob)) === 'join-password');
  await sleep(1500);
  assert.ok(await joinButton(bob).isVisible(), 'Bob stays on the join page');
  assert.equal(await peerId(bob), null);

  // A wrong one.
  await bob.getByLabel('Room password').fill('south star');
  await joinButton(bob).click();
  await bob.getByRole('alert').filter({ hasText: 'not right' }).waitFor();
  await waitFor('the password field to get the focus again', async () => (await focusedId(bob)) === 'join-password');
  assert.equal(await peerId(bob), null);

  // The right one: in, and the call connects both ways.
  await bob.getByLabel('Room password').fill('north star');
  await joinButton(bob).click();
  await waitFor('Bob to be welcomed', () => peerId(bob));
  await Promise.all([waitForVideo('Ada', ada), waitForVideo('Bob', bob)]);

  // When the moderator leaves, the next participant takes over and gets the controls at once.
  assert.equal(await bob.getByRole('button', { name: 'Lock room' }).count(), 0);
  await ada.getByRole('button', { name: 'Leave', exact: true }).click();
  await bob.getByRole('button', { name: 'Lock room' }).waitFor();
  await bob.getByRole('status').filter({ hasText: 'You are now a moderator' }).waitFor();
});

eachBrowser('a moderator locks the room, asks to mute, removes someone and ends the room', async (t, kind) => {
  const { server, browser } = await setUp(t, { name: `moderation-${kind}`, browsers: [kind] });
  const ada = await newPage(browser, 'ada');
  const bob = await newPage(browser, 'bob');
  const cy = await newPage(browser, 'cy');
  for (const [page, name] of [[ada, 'Ada'], [bob, 'Bob']]) {
    await page.goto(`${server.url}/room/mod`);
    await joinAs(page, name);
    await waitFor(`${name} to be welcomed`, () => peerId(page));
  }
  await Promise.all([waitForVideo('Ada', ada), waitForVideo('Bob', bob)]);

  // Ada created the room: she is its moderator, and everyone can see it.
  const lock = ada.getByRole('button', { name: 'Lock room' });
  await lock.waitFor();
  assert.equal(await bob.getByRole('button', { name: 'Lock room' }).count(), 0, 'only moderators may lock');
  assert.equal(await bob.getByRole('button', { name: 'End for all' }).count(), 0);
  await tileOf(bob, 'Ada').getByText('Moderator', { exact: true }).waitFor();
  await tileOf(ada, 'Ada (you)').getByText('Moderator', { exact: true }).waitFor();
  assert.equal(await tileOf(ada, 'Bob').getByText('Moderator', { exact: true }).count(), 0);

  // Lock: the toggle and everyone's indicator follow the room; a newcomer is refused.
  assert.equal(await lock.getAttribute('aria-pressed'), 'false');
  await lock.click();
  await waitFor('the lock to be pressed', async () => (await lock.getAttribute('aria-pressed')) === 'true');
  await bob.getByText('Locked', { exact: true }).waitFor();
  await cy.goto(`${server.url}/room/mod`);
  await joinAs(cy, 'Cy');
  await cy.getByRole('alert').filter({ hasText: 'The room is locked' }).waitFor();
  assert.ok(await joinButton(cy).isVisible());

  // A mute request is a request: Bob decides, and Ada sees the result.
  await ada.getByRole('button', { name: /^People/ }).click();
  await ada.getByRole('button', { name: 'Ask Bob to mute' }).click();
  const request = bob.getByRole('alert').filter({ hasText: 'A moderator asks you to turn your microphone off' });
  await request.waitFor();
  assert.equal(await micPressed(bob), 'true', 'the microphone is not turned off silently');
  assert.equal(await tileOf(ada, 'Bob').getByTitle('Microphone on').count(), 1);
  await request.getByRole('button', { name: 'Turn microphone off' }).click();
  await waitFor("Bob's microphone to be off", async () => (await micPressed(bob)) === 'false');
  await tileOf(ada, 'Bob').getByTitle('Microphone off').waitFor();
  assert.equal(await request.count(), 0, 'the request is answered');

  // Removing asks first; cancelling changes nothing.
  const removeBob = ada.getByRole('button', { name: 'Remove Bob' });
  await removeBob.click();
  const dialog = ada.getByRole('dialog', { name: 'Remove Bob from the room?' });
  await dialog.waitFor();
  await waitFor('the focus to start on Cancel', async () => (await focusedText(ada)) === 'Cancel');
  await ada.keyboard.press('Escape');
  await waitFor('the dialog to close', async () => (await dialog.count()) === 0);
  await waitFor('the focus to return to the button', async () => (await focusedText(ada)) === 'Remove Bob');
  assert.ok(await peerId(bob), 'Bob is still in');
  await removeBob.click();
  await dialog.getByRole('button', { name: 'Remove', exact: true }).click();
  const removedAt = Date.now();
  await bob.getByRole('alert').filter({ hasText: 'A moderator removed you from the room.' }).waitFor();
  assert.ok(await joinButton(bob).isVisible());
  await waitFor('Bob to close his connections', async () => (await connectionCount(bob)) === 0);
  await waitFor('Bob to disappear from Ada\'s page', async () => (
    (await tileOf(ada, 'Bob').count()) === 0 && (await connectionCount(ada)) === 0
  ), 2000);
  assert.ok(Date.now() - removedAt <= 2000, 'Bob is gone from Ada\'s page within 2 s');
  // Removed means removed: no reconnect by itself.
  await sleep(2000);
  assert.equal(await peerId(bob), null);
  assert.equal(await tileOf(ada, 'Bob').count(), 0);

  // Unlocked, Cy gets in; then Ada ends the room for both of them.
  await lock.click();
  await waitFor('the lock to be released', async () => (await lock.getAttribute('aria-pressed')) === 'false');
  await joinButton(cy).click();
  await waitFor('Cy to be welcomed', () => peerId(cy));
  await waitForVideo('Cy', cy);
  await ada.getByRole('button', { name: 'End for all' }).click();
  await ada.getByRole('dialog', { name: 'End the room for everyone?' })
    .getByRole('button', { name: 'End for all' }).click();
  await cy.getByRole('alert').filter({ hasText: 'A moderator ended the room for everyone.' }).waitFor();
  await ada.getByRole('alert').filter({ hasText: 'You ended the room for everyone.' }).waitFor();
  for (const [who, page] of [['Ada', ada], ['Cy', cy]]) {
    assert.ok(await joinButton(page).isVisible(), `${who} is back on the join page`);
    await waitFor(`${who} to close every connection`, async () => (await connectionCount(page)) === 0);
  }
  await sleep(1500);
  assert.equal(await peerId(cy), null, 'an ended room is not rejoined by itself');
});

eachBrowser('with tokens a viewer receives the host and sends nothing', async (t, kind) => {
  const secret = 'e2e-token-secret';
  const { server, browser } = await setUp(t, { name: `tokens-${kind}`, args: ['--token-secret', secret], browsers: [kind] });
  const mint = (name, role) => execFileSync(
    TREFF_BIN,
    ['--token-secret', secret, 'token', '--room', 'stage', '--name', name, '--role', role],
    { encoding: 'utf8' },
  ).trim();
  const room = `${server.url}/room/stage`;

  // Without a token, or with a forged one, the server's message is shown and nothing retries.
  const stranger = await newPage(browser, 'stranger');
  await stranger.goto(room);
  await joinAs(stranger, 'Stranger');
  await stranger.getByRole('alert').filter({ hasText: 'signed token' }).waitFor();
  await stranger.goto(`${room}?token=${mint('Mallory', 'moderator').slice(0, -4)}AAAA`);
  await joinButton(stranger).click();
  await stranger.getByRole('alert').filter({ hasText: 'not valid' }).waitFor();
  assert.equal(await peerId(stranger), null);

  // A viewer who is there first answers the host's offer; one who comes later offers herself.
  const pages = {};
  for (const [name, role] of [['Walt', 'viewer'], ['Hana', 'moderator'], ['Vera', 'viewer']]) {
    const page = await newPage(browser, name.toLowerCase());
    // Count every request for a camera or microphone.
    await page.addInitScript(() => {
      window.mediaRequests = 0;
      const devices = navigator.mediaDevices;
      // Firefox also runs it in the initial about:blank, which has no mediaDevices.
      if (!devices) return;
      const original = devices.getUserMedia.bind(devices);
      devices.getUserMedia = (constraints) => {
        window.mediaRequests += 1;
        return original(constraints);
      };
    });
    await page.goto(`${room}?token=${mint(name, role)}`);
    // The invitation fills in the name the others will see.
    assert.equal(await page.getByLabel('Your name').inputValue(), name);
    await joinButton(page).click();
    await waitFor(`${name} to be welcomed`, () => peerId(page));
    pages[name] = page;
  }
  const { Walt: walt, Hana: hana, Vera: vera } = pages;
  await Promise.all([waitForVideo('Walt', walt), waitForVideo('Vera', vera)]);
  const hanaId = await peerId(hana);
  for (const [who, page] of [['Walt', walt], ['Vera', vera]]) {
    const fromHana = (await inboundStats(page)).filter((s) => s.peer === hanaId && s.kind === 'video');
    assert.ok(fromHana.length === 1 && fromHana[0].framesDecoded > 0, `${who} decodes Hana's video`);
    assert.equal(await page.evaluate(() => window.mediaRequests), 0, `${who} never asks for a camera`);
    for (const name of ['Microphone', 'Camera', 'Share screen']) {
      assert.equal(await page.getByRole('button', { name, exact: true }).count(), 0, `${who} has no ${name} button`);
    }
    assert.equal(await page.getByLabel('Camera source').count(), 0, `${who} has no device pickers`);
    await page.getByText('You are watching', { exact: false }).waitFor();
    const sent = await outboundStats(page);
    assert.ok(sent.every((s) => s.packetsSent === 0), `${who} sends nothing: ${JSON.stringify(sent)}`);
    const directions = await localDirections(page);
    assert.ok(directions.length > 0, `${who} has negotiated`);
    assert.ok(
      directions.every((d) => d === 'a=recvonly' || d === 'a=inactive'),
      `${who} only receives: ${directions}`,
    );
  }

  // The host sees both viewers, marked as such, with no video of theirs, and is the moderator.
  await hana.getByRole('button', { name: 'Lock room' }).waitFor();
  for (const name of ['Walt', 'Vera']) {
    await tileOf(hana, name).locator('.placeholder').waitFor();
    await tileOf(hana, name).getByText('Viewer', { exact: true }).waitFor();
  }
  // Two viewers have nothing to exchange, but neither is shown as a broken connection.
  await waitFor('the viewers to show each other as connected', async () => (
    (await tileOf(walt, 'Vera').locator('.tile-status').count()) === 0
    && (await tileOf(vera, 'Walt').locator('.tile-status').count()) === 0
  ));
  const fromViewers = (await inboundStats(hana)).filter((s) => s.peer !== hanaId);
  assert.ok(fromViewers.every((s) => s.packetsReceived === 0), `no media from viewers: ${JSON.stringify(fromViewers)}`);
  assert.ok(await hana.evaluate(() => window.mediaRequests) > 0, 'the host does use her camera');
});
