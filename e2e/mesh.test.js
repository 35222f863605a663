// Calls of three and four people (a full mesh: every page has a connection to every other), and
// the chat among them. Every page must decode and show every other's video and receive every
// other's audio, per remote peer, read from real getStats(). The server keeps every room peer to
// peer (--sfu off; by default a room of four moves to the media server). mixed.test.js has a
// three-way call of Firefox and Chromium pages.
import assert from 'node:assert/strict';
import {
  chatLines, eachBrowser, fullMesh, joinAll, sendChat, setUp, waitFor,
} from './helpers.js';

const MESH_ONLY = ['--sfu', 'off'];

async function meshOf(t, kind, n) {
  const { server, browser } = await setUp(t, { name: `mesh-${kind}`, args: MESH_ONLY, browsers: [kind] });
  await fullMesh(await joinAll(server, `mesh-${n}`, ['Ada', 'Bob', 'Cy', 'Dee'].slice(0, n).map((who) => [who, browser])));
}

eachBrowser('three people: every page decodes and hears each of the other two', (t, kind) => meshOf(t, kind, 3));

eachBrowser('four people: every page decodes and hears each of the other three', (t, kind) => meshOf(t, kind, 4));

eachBrowser('chat reaches every member, and a late joiner gets the history', async (t, kind) => {
  const { server, browser } = await setUp(t, { name: `mesh-${kind}`, args: MESH_ONLY, browsers: [kind] });
  const joinAllHere = (names) => joinAll(server, 'chatroom', names.map((who) => [who, browser]));
  const people = await joinAllHere(['Ada', 'Bob', 'Cy']);
  for (const { name, page } of people) await sendChat(page, `hello from ${name}`);
  const expected = people.map(({ name }) => `hello from ${name}`);
  for (const { name, page } of people) {
    await waitFor(`${name} to show all three messages`, async () => (await chatLines(page)).length === 3);
    const lines = await chatLines(page);
    assert.deepEqual(lines.map((l) => l.text), expected, `${name} shows the messages in order`);
    assert.equal(lines.find((l) => l.text === `hello from ${name}`).sender, `${name} (you)`);
  }

  const [dee] = await joinAllHere(['Dee']);
  await waitFor('Dee to show the history', async () => (await chatLines(dee.page)).length === 3);
  const history = await chatLines(dee.page);
  assert.deepEqual(history.map((l) => `${l.sender}: ${l.text}`), people.map(({ name }) => `${name}: hello from ${name}`));

  await sendChat(dee.page, 'hello from Dee');
  for (const { name, page } of [...people, dee]) {
    await waitFor(`${name} to show Dee's message`, async () => (await chatLines(page)).at(-1)?.text === 'hello from Dee');
  }
});
