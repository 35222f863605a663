// Calls forced through a TURN relay (iceTransportPolicy "relay"): through a real coturn started
// on loopback with credentials from treff, and through treff's embedded relay. A page given
// expired credentials must not get a relay at all.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  eachBrowser, framesDecoded, freePort, joinAs, newPage, peerId, selectedPairs, setUp,
  sleep, startCoturn, waitFor, waitForVideo,
} from './helpers.js';

const SECRET = 'turn-test-secret';

/** Makes every RTCPeerConnection of the page relay-only, and optionally replaces the TURN
 * credentials the server handed out. Runs in the page before the app. */
function relayOnly(override) {
  const Original = window.RTCPeerConnection;
  const patch = (config = {}) => {
    const out = { ...config, iceTransportPolicy: 'relay' };
    if (override && out.iceServers) {
      out.iceServers = out.iceServers.map((s) => (s.username ? { ...s, ...override } : s));
    }
    return out;
  };
  class RelayOnly extends Original {
    constructor(config, ...rest) {
      super(patch(config), ...rest);
    }
    setConfiguration(config) {
      return super.setConfiguration(patch(config));
    }
  }
  window.RTCPeerConnection = RelayOnly;
}

async function relayPage(browser, label, override) {
  const page = await newPage(browser, label);
  await page.addInitScript(relayOnly, override ?? null);
  return page;
}

/** The number of relay candidates a page gathered. */
function relayCandidates(page) {
  return page.evaluate(async () => {
    let relay = 0;
    for (const [, pc] of window.__treff.connections()) {
      for (const s of (await pc.getStats()).values()) {
        if (s.type === 'local-candidate' && s.candidateType === 'relay') relay += 1;
      }
    }
    return relay;
  });
}

async function callThroughRelay(server, browser, room) {
  const ada = await relayPage(browser, 'ada');
  const bob = await relayPage(browser, 'bob');
  await ada.goto(`${server.url}/room/${room}`);
  await joinAs(ada, 'Ada');
  await waitFor('Ada to be welcomed', () => peerId(ada));
  await bob.goto(`${server.url}/room/${room}`);
  await joinAs(bob, 'Bob');
  await Promise.all([waitForVideo('Ada', ada, 20000), waitForVideo('Bob', bob, 20000)]);
  for (const [who, page] of [['Ada', ada], ['Bob', bob]]) {
    const selected = Object.values(await selectedPairs(page));
    assert.ok(selected.length > 0 && selected.every((p) => p !== null), `${who} has a selected candidate pair`);
    assert.ok(selected.every((p) => p.local === 'relay'), `${who} sends through the relay: ${JSON.stringify(selected)}`);
  }
}

/** coturn on a free port, stopped when the test ends (after the server and browser). */
async function coturnFor(t) {
  const port = await freePort();
  const coturn = await startCoturn({ port, secret: SECRET });
  t.after(() => coturn.stop());
  return port;
}

eachBrowser('a relay-only call works through coturn with credentials from treff', async (t, kind) => {
  const port = await coturnFor(t);
  const { server, browser } = await setUp(t, {
    name: `turn-coturn-${kind}`,
    args: ['--turn-url', `turn:127.0.0.1:${port}?transport=udp`, '--turn-secret', SECRET],
    browsers: [kind],
  });
  await callThroughRelay(server, browser, 'relay-coturn');
});

eachBrowser('a relay-only call works through the embedded TURN relay', async (t, kind) => {
  const port = await freePort();
  const { server, browser } = await setUp(t, {
    name: `turn-embedded-${kind}`,
    args: ['--turn', '--turn-listen', `127.0.0.1:${port}`, '--turn-allow-private'],
    browsers: [kind],
  });
  await callThroughRelay(server, browser, 'relay-embedded');
});

eachBrowser('a page given expired TURN credentials cannot relay', async (t, kind) => {
  const port = await coturnFor(t);
  const { server, browser } = await setUp(t, {
    name: `turn-expired-${kind}`,
    args: ['--turn-url', `turn:127.0.0.1:${port}?transport=udp`, '--turn-secret', SECRET],
    browsers: [kind],
  });
  // Right secret, so only the expiry (an hour ago) is wrong.
  const username = `${Math.floor(Date.now() / 1000) - 3600}:expired`;
  const credential = createHmac('sha1', SECRET).update(username).digest('base64');
  const ada = await relayPage(browser, 'ada');
  const bob = await relayPage(browser, 'bob', { username, credential });
  await ada.goto(`${server.url}/room/relay-expired`);
  await joinAs(ada, 'Ada');
  await waitFor('Ada to be welcomed', () => peerId(ada));
  await bob.goto(`${server.url}/room/relay-expired`);
  await joinAs(bob, 'Bob');
  await waitFor('Bob to have a peer connection', () => bob.evaluate(() => window.__treff.connections().size > 0));
  // Ada's own relay works; Bob's allocation is refused, so no media can flow between them.
  await waitFor('Ada to gather a relay candidate', async () => (await relayCandidates(ada)) > 0);
  await sleep(6000);
  assert.equal(await relayCandidates(bob), 0, 'Bob gathered no relay candidate');
  assert.equal(await framesDecoded(bob), 0, 'Bob decodes nothing');
  assert.equal(await framesDecoded(ada), 0, 'Ada decodes nothing');
});
