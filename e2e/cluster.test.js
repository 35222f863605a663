// Two treff nodes sharing rooms through a real redis-server, behind one address: two pages on
// different nodes call each other, the node of one page is killed (SIGKILL), and the call goes
// on while both pages reconnect by themselves.
import assert from 'node:assert/strict';
import {
  eachBrowser, events, launchBrowser, newPage, joinRoom, peerId, sendChat, chatLines, sleep,
  startFront, startRedis, startServer, waitFor, waitForMediaFrom,
} from './helpers.js';
import { longestFreeze, restartWatch, watchFrames } from './frames.js';

/** Redis, two nodes and the address in front of them, all stopped when the test ends. */
async function cluster(t, extra = []) {
  const redis = await startRedis();
  const nodes = [];
  t.after(async () => {
    for (const node of nodes) await node.stop();
    await redis.stop();
  });
  for (const id of ['node-a', 'node-b']) {
    nodes.push(await startServer({ name: `cluster-${id}`, args: ['--redis-url', redis.url, '--node-id', id, ...extra] }));
  }
  const front = await startFront(nodes.map((n) => n.port));
  t.after(() => front.stop());
  return { redis, nodes, front };
}

async function roomsOwned(node) {
  return (await (await fetch(`${node.url}/healthz`)).json()).rooms_owned;
}

/**
 * A browser with Ada's page joined through the front to node A (so that node A owns `room`) and
 * Bob's to node B; resolves once each receives the other's picture and sound.
 */
async function callAcrossNodes(t, name, front, room) {
  const browser = await launchBrowser({ browser: name });
  t.after(() => browser.close());
  const ada = await newPage(browser, 'ada');
  const bob = await newPage(browser, 'bob');
  front.prefer(0);
  await joinRoom(ada, front, room, 'Ada');
  front.prefer(1);
  await joinRoom(bob, front, room, 'Bob');
  const [adaId, bobId] = [await peerId(ada), await peerId(bob)];
  await Promise.all([waitForMediaFrom('Ada', ada, [bobId]), waitForMediaFrom('Bob', bob, [adaId])]);
  return { ada, bob, adaId, bobId };
}

eachBrowser('two people on two nodes: one node dies, the call goes on and both pages reconnect by themselves', async (t, name) => {
  const { nodes: [a, b], front } = await cluster(t);
  const { ada, bob, adaId, bobId } = await callAcrossNodes(t, name, front, 'cluster');
  assert.deepEqual([await roomsOwned(a), await roomsOwned(b)], [1, 0], "Ada's node owns the room");
  for (const page of [ada, bob]) {
    await watchFrames(page);
    await restartWatch(page);
  }
  const welcomes = async (page) => (await events(page, 'welcome')).length;
  const before = { ada: await welcomes(ada), bob: await welcomes(bob) };

  await a.kill();
  const killed = Date.now();
  // Ada's connection broke with her node; Bob's node finds the room's owner gone. Both pages
  // reconnect through the one address, to the node that is left, and resume.
  await waitFor('both pages to be welcomed back', async () => (await welcomes(ada)) > before.ada && (await welcomes(bob)) > before.bob, 30000, 200);
  const back = Date.now() - killed;
  assert.equal(await peerId(ada), adaId, 'Ada keeps her peer id');
  assert.equal(await peerId(bob), bobId, 'Bob keeps his peer id');
  assert.equal(await roomsOwned(b), 1, 'the other node took the room over');
  // The signaling works again: a chat message goes through the new owner.
  await sendChat(ada, 'still here');
  await waitFor('Bob to read it', async () => (await chatLines(bob)).some((m) => m.text === 'still here'));
  // The call itself never went through the server: it went on throughout.
  await sleep(1000);
  const frozen = { ada: await longestFreeze(ada, ['Bob']), bob: await longestFreeze(bob, ['Ada']) };
  console.log(`node killed: both pages back after ${back} ms; longest freeze: Ada sees Bob ${Math.round(frozen.ada.ms)} ms, Bob sees Ada ${Math.round(frozen.bob.ms)} ms`);
  assert.ok(back < 15000, `both back within 15 s: ${back} ms`);
  assert.ok(frozen.ada.ms < 1000 && frozen.bob.ms < 1000, `no picture froze for a second: ${JSON.stringify(frozen)}`);
  for (const page of [ada, bob]) {
    assert.equal(await page.getByText(/left the room/i).count(), 0, 'nobody was shown leaving');
  }
});

eachBrowser('on the media server: its node dies, and the room comes back on the other node with nobody pressing anything', async (t, name) => {
  const { nodes: [a, b], front } = await cluster(t, ['--sfu-threshold', '2']);
  const { ada, bob, adaId, bobId } = await callAcrossNodes(t, name, front, 'cluster-sfu');
  const sfuLinks = async (page) => (await page.evaluate(() => [...window.__treff.connections().keys()])).filter((l) => l.startsWith('sfu/'));
  assert.ok((await sfuLinks(ada)).length > 0, 'the room is on the media server');
  assert.equal(await roomsOwned(a), 1);

  const epochOf = (label) => Number(label.split('/')[1]);
  const before = Math.max(...(await sfuLinks(ada)).map(epochOf));
  await a.kill();
  const killed = Date.now();
  // The media server died with its node: the new owner starts one (a new mode epoch), and both
  // pages publish and subscribe there again by themselves.
  await waitFor('both pages on the new media server', async () => {
    const epochs = await Promise.all([ada, bob].map(async (p) => (await sfuLinks(p)).map(epochOf)));
    return epochs.every((e) => e.some((n) => n > before));
  }, 30000, 200);
  await Promise.all([
    waitForMediaFrom('Ada', ada, [bobId], { timeoutMs: 30000 }),
    waitForMediaFrom('Bob', bob, [adaId], { timeoutMs: 30000 }),
  ]);
  const back = Date.now() - killed;
  console.log(`media server's node killed: both pages see each other again after ${back} ms`);
  assert.equal(await peerId(ada), adaId, 'Ada keeps her peer id');
  assert.equal(await peerId(bob), bobId, 'Bob keeps his peer id');
  assert.equal(await roomsOwned(b), 1, 'the other node took the room over');
  assert.ok(back < 20000, `pictures back within 20 s: ${back} ms`);
});
