// What a person sees when things go wrong: a refusal by the server, a denied camera, a network blip (the page
// resumes its place and keeps its calls) and a server restart in the middle of a call (the pages
// rejoin by themselves and the call comes back).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  joinAs, launchBrowser, newPage, peerId, startServer, waitFor, waitForVideo,
} from './helpers.js';

const cleanup = [];
after(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => {});
});

test("a full room shows the server's message on the join page", async () => {
  const server = await startServer({ name: 'full', args: ['--room-capacity', '1'] });
  cleanup.push(server.stop);
  const browser = await launchBrowser();
  cleanup.push(() => browser.close());
  const ada = await newPage(browser, 'ada');
  const bob = await newPage(browser, 'bob');

  await ada.goto(`${server.url}/room/small`);
  await joinAs(ada, 'Ada');
  await waitFor('Ada to be welcomed', () => peerId(ada));

  await bob.goto(`${server.url}/room/small`);
  await joinAs(bob, 'Bob');
  const alert = bob.getByRole('alert').filter({ hasText: 'The room is full' });
  await alert.waitFor();
  assert.ok(await bob.getByRole('button', { name: 'Join', exact: true }).isVisible());
});

test('with camera and microphone denied the page says so and still receives the others', async () => {
  const server = await startServer({ name: 'denied' });
  cleanup.push(server.stop);
  const denying = await launchBrowser({ grantMedia: false });
  cleanup.push(() => denying.close());
  const granting = await launchBrowser();
  cleanup.push(() => granting.close());
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
  await bob.locator('.tile', { hasText: 'Ada' }).locator('.placeholder').waitFor();
});

test('after a server restart both pages rejoin and the call resumes', async () => {
  let server = await startServer({ name: 'restart-1' });
  cleanup.push(() => server.stop());
  const browser = await launchBrowser();
  cleanup.push(() => browser.close());
  const ada = await newPage(browser, 'ada');
  const bob = await newPage(browser, 'bob');
  for (const [page, name] of [[ada, 'Ada'], [bob, 'Bob']]) {
    await page.goto(`${server.url}/room/restart`);
    await joinAs(page, name);
    await waitFor(`${name} to be welcomed`, () => peerId(page));
  }
  await Promise.all([waitForVideo('Ada', ada), waitForVideo('Bob', bob)]);
  const before = [await peerId(ada), await peerId(bob)];

  await server.stop();
  // The person is told, and the page keeps trying.
  await ada.getByRole('status').filter({ hasText: /server/i }).first().waitFor();

  server = await startServer({ name: 'restart-2', port: server.port });
  // The new server does not know the old resume tokens: new ids, new connections.
  await waitFor('both pages to rejoin with new ids', async () => {
    const [a, b] = [await peerId(ada), await peerId(bob)];
    return a && b && a !== before[0] && b !== before[1];
  }, 30000);
  await waitFor('exactly one connection per page, to the new id', async () => {
    const ids = await Promise.all([ada, bob].map((p) => p.evaluate(() => [...window.__treff.connections().keys()].map((k) => k.replace(/^mesh\//, '')))));
    return ids[0].length === 1 && ids[1].length === 1
      && ids[0][0] === (await peerId(bob)) && ids[1][0] === (await peerId(ada));
  });
  await Promise.all([waitForVideo('Ada', ada), waitForVideo('Bob', bob)]);
  assert.equal(await ada.getByLabel('Video of Bob').count(), 1, 'no stale tile of the old Bob');
});

test('a network blip resumes the same peer id and keeps the call; others see "Reconnecting…"', async () => {
  const server = await startServer({ name: 'blip' });
  cleanup.push(server.stop);
  const browser = await launchBrowser();
  cleanup.push(() => browser.close());
  const ada = await newPage(browser, 'ada');
  const bob = await newPage(browser, 'bob');
  for (const [page, name] of [[ada, 'Ada'], [bob, 'Bob']]) {
    await page.goto(`${server.url}/room/blip`);
    await joinAs(page, name);
    await waitFor(`${name} to be welcomed`, () => peerId(page));
  }
  await Promise.all([waitForVideo('Ada', ada), waitForVideo('Bob', bob)]);
  const adaId = await peerId(ada);
  await ada.evaluate(() => { window.keptConnection = [...window.__treff.connections().values()][0]; });

  // Ada's browser goes offline and every signaling socket is torn down by the kernel (as a
  // broken network would); media keeps flowing peer to peer.
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
  const adaTile = bob.locator('.tile', { hasText: 'Ada' });
  await adaTile.getByText('Reconnecting…').waitFor();
  await ada.getByRole('status').filter({ hasText: 'Retrying in' }).waitFor();

  await ada.context().setOffline(false);
  await waitFor('Ada to be back', async () => (await adaTile.getByText('Reconnecting…').count()) === 0, 20000);
  assert.equal(await peerId(ada), adaId, 'the resume token gives the same peer id back');
  assert.ok(
    await ada.evaluate(() => window.keptConnection === [...window.__treff.connections().values()][0]),
    'the peer connection survives a resume',
  );
  await Promise.all([waitForVideo('Ada', ada), waitForVideo('Bob', bob)]);
});
