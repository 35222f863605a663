// Who is in the call, as the others see it. Leaving and closing the tab remove a participant at
// once; a crashed or frozen browser first shows as "Reconnecting…" and disappears when its place
// expires. The server runs with short timings so that the windows can be asserted quickly.
import assert from 'node:assert/strict';
import {
  browserProcesses, call, eachBrowser, launchBrowser, setUp, signalAll, waitFor,
} from './helpers.js';

const HEARTBEAT_MS = 500;
const CLIENT_TIMEOUT_MS = 1000;
const GRACE_MS = 2000;
/** Room for scheduling, delivery and rendering on a busy two-core machine. */
const SLACK_MS = 1000;

/** The server with short timings and a browser `kind` for Ada (and Bob, unless he has his own). */
function presenceSetUp(t, kind) {
  return setUp(t, {
    name: `presence-${kind}`,
    args: [
      '--heartbeat-interval', `${HEARTBEAT_MS}ms`,
      '--client-timeout', `${CLIENT_TIMEOUT_MS}ms`,
      '--resume-grace', `${GRACE_MS}ms`,
    ],
    browsers: [kind],
  });
}

/**
 * Watches Bob's tile on Ada's page every 20 ms, in the page, so the times do not depend on how
 * quickly the test process polls: when "Reconnecting…" first shows and when the tile is gone.
 */
function watchBob(ada) {
  return ada.evaluate(() => {
    const seen = { reconnecting: null, gone: null };
    window.__bobSeen = seen;
    const timer = setInterval(() => {
      const video = document.querySelector('video[aria-label="Video of Bob"]');
      if (seen.reconnecting === null && video?.closest('figure').textContent.includes('Reconnecting…')) {
        seen.reconnecting = Date.now();
      }
      if (!video) {
        seen.gone = Date.now();
        clearInterval(timer);
      }
    }, 20);
  });
}

/** Waits until Bob is gone from Ada's page; returns the times since `since` (ms). */
async function bobGone(ada, since, timeoutMs = 15000) {
  const seen = await waitFor('Bob to disappear from Ada', async () => {
    const s = await ada.evaluate(() => window.__bobSeen);
    return s.gone !== null && s;
  }, timeoutMs, 50);
  assert.equal(await ada.evaluate(() => window.__treff.connections().size), 0, 'the connection to Bob is closed');
  return {
    reconnecting: seen.reconnecting === null ? null : seen.reconnecting - since,
    gone: seen.gone - since,
  };
}

eachBrowser('a participant who presses Leave disappears from the others within 2 s', async (t, kind) => {
  const { server, browser } = await presenceSetUp(t, kind);
  const { ada, bob } = await call(server, 'leave', browser);
  await watchBob(ada);
  const t0 = Date.now();
  await bob.getByRole('button', { name: 'Leave', exact: true }).click();
  const { reconnecting, gone } = await bobGone(ada, t0);
  console.log(`${kind}: leave: gone after ${gone} ms`);
  assert.ok(gone < 2000, `gone after ${gone} ms`);
  assert.equal(reconnecting, null, 'leaving is not a lost connection');
});

eachBrowser('a participant who closes the tab disappears from the others within 2 s', async (t, kind) => {
  const { server, browser } = await presenceSetUp(t, kind);
  const { ada, bob } = await call(server, 'close-tab', browser);
  await watchBob(ada);
  const t0 = Date.now();
  await bob.close();
  const { reconnecting, gone } = await bobGone(ada, t0);
  console.log(`${kind}: tab closed: gone after ${gone} ms`);
  assert.ok(gone < 2000, `gone after ${gone} ms`);
  assert.equal(reconnecting, null, 'a closed tab is not a lost connection');
});

eachBrowser('a crashed browser shows as "Reconnecting…" and disappears when the resume grace ends', async (t, kind) => {
  const { server, browser } = await presenceSetUp(t, kind);
  const crashing = await launchBrowser({ browser: kind });
  t.after(() => crashing.close().catch(() => {}));
  const { ada } = await call(server, 'crash', browser, crashing);
  const pids = await browserProcesses(crashing);
  await watchBob(ada);
  const t0 = Date.now();
  // Every process of Bob's browser dies at once; the kernel closes its sockets without a
  // WebSocket close frame, so the server sees a broken connection at once.
  signalAll(pids, 'SIGKILL');
  const { reconnecting, gone } = await bobGone(ada, t0);
  console.log(`${kind}: crash: "Reconnecting…" after ${reconnecting} ms, gone after ${gone} ms`);
  assert.ok(reconnecting !== null && reconnecting < SLACK_MS, `"Reconnecting…" after ${reconnecting} ms`);
  assert.ok(gone >= GRACE_MS - 50, `gone after ${gone} ms, before the grace period of ${GRACE_MS} ms ended`);
  assert.ok(gone <= GRACE_MS + SLACK_MS, `gone after ${gone} ms`);
});

eachBrowser('a frozen browser (silent connection) shows as "Reconnecting…" after the client timeout and disappears after the grace', async (t, kind) => {
  const { server, browser } = await presenceSetUp(t, kind);
  const freezing = await launchBrowser({ browser: kind });
  let pids = [];
  t.after(async () => {
    // A stopped browser cannot close; it is killed instead.
    signalAll(pids, 'SIGKILL');
    signalAll(pids, 'SIGCONT');
    await freezing.close().catch(() => {});
  });
  const { ada } = await call(server, 'freeze', browser, freezing);
  pids = await browserProcesses(freezing);
  await watchBob(ada);
  const t0 = Date.now();
  // Stopped, not killed: its sockets stay open and silent, as behind a dead network link. Only the
  // heartbeat can tell: the connection is lost after --client-timeout, checked every heartbeat.
  signalAll(pids, 'SIGSTOP');
  const { reconnecting, gone } = await bobGone(ada, t0);
  console.log(`${kind}: frozen: "Reconnecting…" after ${reconnecting} ms, gone after ${gone} ms`);
  // The silence began with the last ping or pong before the freeze, up to one interval earlier,
  // and the server checks once per heartbeat.
  const lostAfter = CLIENT_TIMEOUT_MS - HEARTBEAT_MS;
  const lostBy = CLIENT_TIMEOUT_MS + HEARTBEAT_MS;
  assert.ok(reconnecting !== null, 'a silent participant is shown as reconnecting first');
  assert.ok(reconnecting >= lostAfter - 50, `"Reconnecting…" after ${reconnecting} ms, before the client timeout`);
  assert.ok(reconnecting <= lostBy + SLACK_MS, `"Reconnecting…" after ${reconnecting} ms`);
  assert.ok(gone - reconnecting >= GRACE_MS - 100, `gone ${gone - reconnecting} ms after "Reconnecting…", before the grace ended`);
  assert.ok(gone <= lostBy + GRACE_MS + SLACK_MS, `gone after ${gone} ms`);
});
