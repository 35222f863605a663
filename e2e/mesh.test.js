// Calls of three and four people (a full mesh: every page has a connection to every other), and
// the chat among them. Every page must decode and show every other's video and receive every
// other's audio, per remote peer, read from real getStats().
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  chatLines, joinRoom, launchBrowser, newPage, peerId, sendChat, startServer, waitFor,
  waitForMediaFrom, waitForPresented,
} from './helpers.js';

let server;
let browser;

before(async () => {
  server = await startServer({ name: 'mesh' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
});

/** Opens a page per name and joins them to `room` one after the other. */
async function joinAll(room, names) {
  const people = [];
  for (const name of names) {
    const page = await newPage(browser, name.toLowerCase());
    await joinRoom(page, server, room, name);
    people.push({ name, page, id: await peerId(page) });
  }
  return people;
}

/** Every page receives and shows every other page's media, and has no other connection. */
async function fullMesh(people) {
  await Promise.all(people.map(async ({ name, page }) => {
    const others = people.filter((p) => p.page !== page);
    await waitForMediaFrom(name, page, others.map((o) => o.id), { timeoutMs: 30000 });
    for (const other of others) await waitForPresented(page, `Video of ${other.name}`, { timeoutMs: 20000 });
    const connected = await page.evaluate(() => [...window.__treff.connections().keys()].map((k) => k.replace(/^mesh\//, '')).sort());
    assert.deepEqual(connected, others.map((o) => o.id).sort(), `${name} is connected to exactly the others`);
  }));
}

async function meshOf(n) {
  const people = await joinAll(`mesh-${n}`, ['Ada', 'Bob', 'Cy', 'Dee'].slice(0, n));
  await fullMesh(people);
  await Promise.all(people.map(({ page }) => page.close()));
}

test('three people: every page decodes and hears each of the other two', () => meshOf(3));

test('four people: every page decodes and hears each of the other three', () => meshOf(4));

test('chat reaches every member, and a late joiner gets the history', async () => {
  const people = await joinAll('chatroom', ['Ada', 'Bob', 'Cy']);
  for (const { name, page } of people) await sendChat(page, `hello from ${name}`);
  const expected = people.map(({ name }) => `hello from ${name}`);
  for (const { name, page } of people) {
    await waitFor(`${name} to show all three messages`, async () => (await chatLines(page)).length === 3);
    const lines = await chatLines(page);
    assert.deepEqual(lines.map((l) => l.text), expected, `${name} shows the messages in order`);
    assert.equal(lines.find((l) => l.text === `hello from ${name}`).sender, `${name} (you)`);
  }

  const [dee] = await joinAll('chatroom', ['Dee']);
  await waitFor('Dee to show the history', async () => (await chatLines(dee.page)).length === 3);
  const history = await chatLines(dee.page);
  assert.deepEqual(history.map((l) => `${l.sender}: ${l.text}`), people.map(({ name }) => `${name}: hello from ${name}`));

  await sendChat(dee.page, 'hello from Dee');
  for (const { name, page } of [...people, dee]) {
    await waitFor(`${name} to show Dee's message`, async () => (await chatLines(page)).at(-1)?.text === 'hello from Dee');
  }
  await Promise.all([...people, dee].map(({ page }) => page.close()));
});
