// Call-quality benchmark (not a test): 2-, 3- and 4-way calls peer to peer and 4- and 6-way calls
// on the media server, through the real web app, in the same loopback-only network namespace as
// the browser tests (run it with scripts/bench-call.sh).
//
// For each call size, `--trials` times: the first n-1 people join and see each other, then the
// last one presses Join and we time, from that click, the server's welcome, the first offer sent,
// ICE connected to everyone, the first remote frame on the newcomer's page and the moment every
// page shows a frame of every new stream. The last trial then runs for `--duration` seconds and we
// read frame rate, resolution, bitrate, packet loss, freezes and round-trip time from getStats(),
// and compare received frames with the test pattern that the fake cameras send (PSNR and SSIM).
//
// Writes bench-results/call.json and bench-results/call.md and prints the tables.
import { mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  RESULTS, ROOT, joinAs, launchBrowser, newPage, peerId, sleep, startServer, waitFor,
} from './helpers.js';
import { buildInternet, impair } from './netem.js';
import {
  FPS, FRAMES, HEIGHT, WIDTH, lumaFrame, psnr, readMarker, scaleLuma, ssim, writePattern,
} from './pattern.js';

const { values: opts } = parseArgs({
  options: {
    sizes: { type: 'string', default: '2,3,4' },
    'sfu-sizes': { type: 'string', default: '4,6' },
    trials: { type: 'string', default: '5' },
    duration: { type: 'string', default: '20' },
    captures: { type: 'string', default: '4' },
    // Chromium's own fake camera (640x480, 20 fps) instead of the test pattern: what the
    // browser tests see. Frames are then not compared with a pattern.
    'default-camera': { type: 'boolean', default: false },
    // Emulated access networks (e2e/netem.js) instead of loopback: each person in a home of
    // their own behind a NAT, on a line of this profile. Each profile runs --network-calls.
    networks: { type: 'string', default: '' },
    'network-calls': { type: 'string', default: '3:mesh,3:sfu' },
  },
});

/**
 * Everyone's access line, per profile: up and down rate (kbit/s), one-way delay and loss on
 * the line (so the round trip between two people on the same profile is four delays).
 */
const PROFILES = {
  lan: {},
  dsl: { up: { kbit: 2000, delayMs: 10 }, down: { kbit: 16000, delayMs: 10 } },
  mobile: { up: { kbit: 1000, delayMs: 40, lossPercent: 2 }, down: { kbit: 4000, delayMs: 40, lossPercent: 2 } },
  congested: { up: { kbit: 600, delayMs: 80, lossPercent: 1 }, down: { kbit: 1500, delayMs: 80, lossPercent: 1 } },
};
const NETWORKS = opts.networks ? opts.networks.split(',') : [];
for (const name of NETWORKS) {
  if (!PROFILES[name]) throw new Error(`unknown network profile "${name}" (known: ${Object.keys(PROFILES).join(', ')})`);
}
const NETWORK_CALLS = opts['network-calls'].split(',').filter(Boolean).map((c) => {
  const [n, mode] = c.split(':');
  if (!['mesh', 'sfu'].includes(mode) || !(Number(n) >= 2)) throw new Error(`bad --network-calls entry "${c}"`);
  return { n: Number(n), mode };
});
const sizes = (list) => (list ? list.split(',').map(Number) : []);
/**
 * The calls to measure: peer to peer on a server started with `--sfu off`, and on the media
 * server with the server's default flags (a room moves there when its fourth person joins).
 */
const CALLS = [
  ...sizes(opts.sizes).map((n) => ({ n, mode: 'mesh' })),
  ...sizes(opts['sfu-sizes']).map((n) => ({ n, mode: 'sfu' })),
];
const TRIALS = Number(opts.trials);
const DURATION_S = Number(opts.duration);
/** Frame captures per received camera during the measured window. */
const CAPTURES = Number(opts.captures);
const NAMES = ['Ada', 'Bob', 'Cy', 'Dee', 'Eve', 'Fay'];
const OUT = join(ROOT, 'bench-results');

/** Budgets per step from the last Join click (ms), checked on the two-way call's medians. */
const BUDGETS = { welcome: 200, offer: 300, ice: 600, firstFrame: 800, allFrames: 1000 };

/**
 * Runs in every page before the app: times when the app is ready (the Join button exists), when
 * Join is clicked, and when each remote camera presents its first frame (requestVideoFrameCallback).
 */
function instrument() {
  const bench = { ready: null, click: null, frames: {} };
  window.__bench = bench;
  const hooked = new WeakSet();
  const scan = () => {
    if (bench.ready === null && [...document.querySelectorAll('button')].some((b) => b.textContent.trim() === 'Join')) {
      bench.ready = performance.now();
    }
    for (const video of document.querySelectorAll('video[aria-label^="Video of "]')) {
      if (hooked.has(video)) continue;
      hooked.add(video);
      const label = video.getAttribute('aria-label');
      video.requestVideoFrameCallback((now, meta) => {
        bench.frames[label] ??= meta.presentationTime;
      });
    }
  };
  new MutationObserver(scan).observe(document, { childList: true, subtree: true });
  document.addEventListener('click', (event) => {
    if (bench.click === null && event.target.closest?.('button')?.textContent.trim() === 'Join') {
      bench.click = performance.now();
    }
  }, true);
}

const median = (xs) => {
  const s = xs.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

async function openPerson(browser, server, room, name) {
  const page = await newPage(browser, name.toLowerCase());
  await page.addInitScript(instrument);
  await page.goto(`${server.url}/room/${room}`);
  await waitFor(`${name}'s join form`, () => page.evaluate(() => window.__bench.ready !== null));
  return { name, page };
}

/** Waits until `person` shows a frame of every one of `others`. */
function framesFrom(person, others, timeoutMs = 30000) {
  return waitFor(`${person.name} to show everyone`, () => person.page.evaluate(
    (labels) => labels.every((l) => window.__bench.frames[l] !== undefined),
    others.map((o) => `Video of ${o.name}`),
  ), timeoutMs);
}

/** One join of the last of `n` people into a call of the first n-1; returns the times (ms). */
async function trial(browser, server, { n, mode }, index, keep) {
  const room = `bench-${mode}-${n}-${index}`;
  // One browser for everyone on loopback; one per person (each in its home) on a network.
  const browserOf = (i) => (Array.isArray(browser) ? browser[i] : browser);
  const people = [];
  for (const [i, name] of NAMES.slice(0, n - 1).entries()) {
    const person = await openPerson(browserOf(i), server, room, name);
    await joinAs(person.page, name);
    await waitFor(`${name} to be welcomed`, () => peerId(person.page));
    people.push(person);
  }
  for (const person of people) await framesFrom(person, people.filter((p) => p !== person));
  const last = await openPerson(browserOf(n - 1), server, room, NAMES[n - 1]);
  const readyMs = await last.page.evaluate(() => window.__bench.ready);
  await last.page.getByLabel('Your name').fill(last.name);
  await sleep(300);
  await last.page.getByRole('button', { name: 'Join', exact: true }).click();
  const all = [...people, last];
  await framesFrom(last, people);
  for (const person of people) await framesFrom(person, [last]);

  // Everything in epoch milliseconds, so that pages with different time origins compare.
  const lastMarks = await last.page.evaluate((prefix) => {
    const origin = performance.timeOrigin;
    const events = window.__treff.events();
    const first = (name) => events.find((e) => e.name === name);
    const ice = events.filter((e) => e.name === 'ice-connected' && e.connection?.startsWith(prefix));
    return {
      click: origin + window.__bench.click,
      welcome: origin + first('welcome').t,
      offer: first('offer-sent') ? origin + first('offer-sent').t : null,
      // ICE connected to every peer: the last of the first "connected" per peer.
      ice: Math.max(...[...new Set(ice.map((e) => e.connection))].map((p) => origin + ice.find((e) => e.connection === p).t)),
      icePeers: new Set(ice.map((e) => e.connection)).size,
      frames: Object.values(window.__bench.frames).map((t) => origin + t),
    };
  }, mode === 'sfu' ? 'sfu/' : 'mesh/');
  const othersSawLast = await Promise.all(people.map((p) => p.page.evaluate(
    (label) => performance.timeOrigin + window.__bench.frames[label],
    `Video of ${last.name}`,
  )));
  const since = (t) => (t === null ? null : t - lastMarks.click);
  const times = {
    ready: readyMs,
    welcome: since(lastMarks.welcome),
    offer: since(lastMarks.offer),
    // Mesh: a connection to each of the others; media server: its publish and subscribe links.
    ice: lastMarks.icePeers === (mode === 'sfu' ? 2 : n - 1) ? since(lastMarks.ice) : null,
    firstFrame: since(Math.min(...lastMarks.frames)),
    allFrames: since(Math.max(...lastMarks.frames, ...othersSawLast)),
  };
  if (!keep) await Promise.all(all.map((p) => p.page.close()));
  return { times, people: all };
}

/**
 * Cumulative receive stats per (receiver, sender) of each remote camera, and the round-trip time
 * of the connection that carries it, from getStats(). The page files each remote track under the
 * person who sent it (`window.__treff.streams()`), so this reads the same in both modes: one
 * connection per person in the mesh, one subscribe connection for everyone on the media server.
 */
function receiveStats(page) {
  return page.evaluate(async () => {
    const streams = window.__treff.streams();
    const out = {};
    for (const [connection, pc] of window.__treff.connections()) {
      const report = await pc.getStats();
      let rtt = null;
      for (const s of report.values()) {
        if (s.type === 'transport' && s.selectedCandidatePairId) {
          rtt = report.get(s.selectedCandidatePairId)?.currentRoundTripTime ?? null;
        }
      }
      for (const s of report.values()) {
        if (s.type !== 'inbound-rtp') continue;
        const filed = streams.find((e) => e.connection === connection
          && ((s.mid != null && e.mid === s.mid) || e.trackId === s.trackIdentifier));
        if (!filed) continue;
        const entry = out[filed.peer] ??= { rtt };
        if (s.kind === 'video' && filed.kind === 'camera') {
          Object.assign(entry, {
            framesDecoded: s.framesDecoded ?? 0,
            bytesReceived: s.bytesReceived ?? 0,
            packetsReceived: s.packetsReceived ?? 0,
            packetsLost: s.packetsLost ?? 0,
            freezeCount: s.freezeCount ?? 0,
            totalFreezesDuration: s.totalFreezesDuration ?? 0,
            width: s.frameWidth ?? 0,
            height: s.frameHeight ?? 0,
          });
        }
        if (s.kind === 'audio') {
          entry.audioPacketsReceived = s.packetsReceived ?? 0;
          entry.audioPacketsLost = s.packetsLost ?? 0;
        }
      }
    }
    return { t: performance.timeOrigin + performance.now(), byPeer: out };
  });
}

/** The luma of what the <video> labelled `label` shows now, at its own resolution. */
async function captureLuma(page, label) {
  const got = await page.evaluate((label) => {
    const video = document.querySelector(`video[aria-label="${label}"]`);
    if (!video?.videoWidth) return null;
    const canvas = document.createElement('canvas');
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const context = canvas.getContext('2d', { willReadFrequently: true });
    context.drawImage(video, 0, 0);
    const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
    // Limited-range BT.601 luma, the inverse of how the browser turned the frame into RGB.
    const y = new Uint8Array(canvas.width * canvas.height);
    for (let i = 0; i < y.length; i++) {
      y[i] = Math.round(16 + (65.481 * data[4 * i] + 128.553 * data[4 * i + 1] + 24.966 * data[4 * i + 2]) / 255);
    }
    let binary = '';
    for (let i = 0; i < y.length; i += 0x8000) binary += String.fromCharCode(...y.subarray(i, i + 0x8000));
    return { width: canvas.width, height: canvas.height, luma: btoa(binary) };
  }, label);
  if (!got) return null;
  return { ...got, luma: new Uint8Array(Buffer.from(got.luma, 'base64')) };
}

const sourceCache = new Map();
function source(frame, width, height) {
  const key = `${frame}:${width}x${height}`;
  if (!sourceCache.has(key)) {
    if (sourceCache.size > 64) sourceCache.clear();
    sourceCache.set(key, scaleLuma(lumaFrame(frame), width, height));
  }
  return sourceCache.get(key);
}

/** Runs the call for DURATION_S and measures it. */
async function measure(people) {
  const ids = new Map();
  for (const p of people) ids.set(await peerId(p.page), p.name);
  await sleep(2000);
  const start = await Promise.all(people.map((p) => receiveStats(p.page)));
  const similarity = { psnr: [], ssim: [], undecoded: 0 };
  const deadline = Date.now() + DURATION_S * 1000;
  for (let k = 0; k < (opts['default-camera'] ? 0 : CAPTURES); k++) {
    await sleep(Math.max(0, (deadline - Date.now()) / (CAPTURES - k + 1)));
    for (const receiver of people) {
      for (const sender of people.filter((p) => p !== receiver)) {
        const frame = await captureLuma(receiver.page, `Video of ${sender.name}`);
        if (!frame) continue;
        const number = readMarker(frame.luma, frame.width, frame.height);
        if (number === null) {
          similarity.undecoded++;
          continue;
        }
        const sent = source(number, frame.width, frame.height);
        similarity.psnr.push(psnr(frame.luma, sent));
        similarity.ssim.push(ssim(frame.luma, sent, frame.width, frame.height));
      }
    }
  }
  await sleep(Math.max(0, deadline - Date.now()));
  const end = await Promise.all(people.map((p) => receiveStats(p.page)));

  const streams = [];
  const rtts = [];
  for (const [i, receiver] of people.entries()) {
    const seconds = (end[i].t - start[i].t) / 1000;
    for (const [peer, b] of Object.entries(end[i].byPeer)) {
      const a = start[i].byPeer[peer];
      if (!a || b.framesDecoded === undefined) continue;
      const received = b.packetsReceived - a.packetsReceived;
      const lost = b.packetsLost - a.packetsLost;
      streams.push({
        receiver: receiver.name,
        sender: ids.get(peer),
        fps: (b.framesDecoded - a.framesDecoded) / seconds,
        width: b.width,
        height: b.height,
        kbps: ((b.bytesReceived - a.bytesReceived) * 8) / seconds / 1000,
        lossPct: received + lost > 0 ? (100 * lost) / (received + lost) : 0,
        audioLossPct: (() => {
          const r = b.audioPacketsReceived - a.audioPacketsReceived;
          const l = b.audioPacketsLost - a.audioPacketsLost;
          return r + l > 0 ? (100 * l) / (r + l) : 0;
        })(),
        freezes: b.freezeCount - a.freezeCount,
        freezeSeconds: b.totalFreezesDuration - a.totalFreezesDuration,
      });
      if (b.rtt !== null) rtts.push(b.rtt * 1000);
    }
  }
  const resolutions = streams.map((s) => `${s.width}x${s.height}`);
  const common = [...new Set(resolutions)].sort((x, y) => resolutions.filter((r) => r === y).length - resolutions.filter((r) => r === x).length);
  return {
    seconds: DURATION_S,
    streams,
    summary: {
      streams: streams.length,
      fpsMean: mean(streams.map((s) => s.fps)),
      fpsMin: Math.min(...streams.map((s) => s.fps)),
      resolution: common[0] ?? null,
      resolutions: [...new Set(resolutions)],
      kbpsMean: mean(streams.map((s) => s.kbps)),
      lossPct: mean(streams.map((s) => s.lossPct)),
      audioLossPct: mean(streams.map((s) => s.audioLossPct)),
      freezes: streams.reduce((n, s) => n + s.freezes, 0),
      freezeSeconds: streams.reduce((n, s) => n + s.freezeSeconds, 0),
      rttMs: mean(rtts),
      psnr: mean(similarity.psnr),
      ssim: mean(similarity.ssim),
      framesCompared: similarity.psnr.length,
      framesUndecoded: similarity.undecoded,
    },
  };
}

const fmt = (x, digits = 0) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits));

/** A run's name in the tables: "3-way mesh", and its network unless loopback. */
const callName = (run) => `${run.n}-way ${run.mode}${run.network ? `, ${run.network}` : ''}`;

function markdown(report) {
  const lines = [];
  lines.push(`Measured ${report.date} on ${report.machine.cpus}× ${report.machine.cpu}, ${report.machine.chromium}; `
    + (report.camera === 'pattern'
      ? `fake cameras send a ${WIDTH}x${HEIGHT} ${FPS} fps test pattern`
      : 'Chromium\'s own fake camera (640x480, 20 fps; no pattern to compare frames with)')
    + (report.runs.some((r) => !r.network) ? '; calls without a network named run on loopback.' : '.'));
  if (report.profiles) {
    const line = (s) => (s ? [s.kbit && `${s.kbit} kbit/s`, s.delayMs && `${s.delayMs} ms`, s.lossPercent && `${s.lossPercent} % loss`].filter(Boolean).join(', ') : 'as is');
    lines.push('');
    lines.push('Emulated networks: everyone in a home of their own behind a NAT, on a line of the profile '
      + '(rate, one-way delay and loss per direction): '
      + Object.entries(report.profiles).map(([n, p]) => `${n}: up ${line(p.up)}, down ${line(p.down)}`).join('; ') + '.');
  }
  lines.push('');
  lines.push(`Connection: median of ${report.trials} joins, ms from the last person's Join click `
    + '(app ready: ms from navigation start to the join form).');
  lines.push('');
  lines.push('| call | app ready | welcome | first offer sent | ICE connected (all) | first remote frame | every new stream shown |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const run of report.runs) {
    const m = run.median;
    lines.push(`| ${callName(run)} | ${fmt(m.ready)} | ${fmt(m.welcome)} | ${fmt(m.offer)} | ${fmt(m.ice)} | ${fmt(m.firstFrame)} | ${fmt(m.allFrames)} |`);
  }
  lines.push(`| budget | | ${BUDGETS.welcome} | ${BUDGETS.offer} | ${BUDGETS.ice} | ${BUDGETS.firstFrame} | ${BUDGETS.allFrames} |`);
  lines.push('');
  lines.push(`Quality over ${report.duration} s per call, averaged over every received camera stream `
    + `(n-way: n·(n-1) streams); PSNR and SSIM of the luma of ${report.captures} captured frames per stream `
    + 'against the sent frame with the same number.');
  lines.push('');
  lines.push('| call | fps (mean / min) | resolution | video kbit/s | loss % (video / audio) | freezes (count / s) | RTT ms | PSNR dB | SSIM |');
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const run of report.runs) {
    const q = run.quality.summary;
    lines.push(`| ${callName(run)} | ${fmt(q.fpsMean, 1)} / ${fmt(q.fpsMin, 1)} | ${q.resolutions.join(', ')} | ${fmt(q.kbpsMean)} `
      + `| ${fmt(q.lossPct, 2)} / ${fmt(q.audioLossPct, 2)} | ${q.freezes} / ${fmt(q.freezeSeconds, 1)} | ${fmt(q.rttMs, 1)} `
      + `| ${fmt(q.psnr, 1)} | ${fmt(q.ssim, 3)} |`);
  }
  return lines.join('\n');
}

/** `--trials` joins of one call, then its quality; `browser` is one or one per person. */
async function runCall(browser, server, call, network) {
  const { n, mode } = call;
  const name = callName({ n, mode, network });
  const trials = [];
  let kept;
  for (let i = 0; i < TRIALS; i++) {
    const keep = i === TRIALS - 1;
    const { times, people } = await trial(browser, server, call, i, keep);
    trials.push(times);
    if (keep) kept = people;
    console.error(`${name} join ${i + 1}/${TRIALS}: ${JSON.stringify(Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v === null ? null : Math.round(v)])))}`);
  }
  const quality = await measure(kept);
  await Promise.all(kept.map((p) => p.page.close()));
  const keys = Object.keys(trials[0]);
  console.error(`${name} quality: ${JSON.stringify(quality.summary)}`);
  return {
    n,
    mode,
    network,
    trials,
    median: Object.fromEntries(keys.map((k) => [k, median(trials.map((t) => t[k]))])),
    quality,
  };
}

/**
 * One call across emulated networks: everyone in a home of their own (port-preserving NAT) on
 * a line of `profile`, treff with its TURN relay on the public side; on the media server from
 * the call's size on.
 */
async function onNetwork(profile, call, pattern) {
  const cleanups = [];
  const t = { after: (fn) => cleanups.push(fn) };
  const homes = NAMES.slice(0, call.n).map((n) => ({ name: n.toLowerCase(), nat: 'cone' }));
  const browsers = [];
  let server;
  try {
    const net = buildInternet(t, homes);
    for (const home of Object.values(net.homes)) impair(t, home, PROFILES[profile]);
    server = await startServer({
      name: `bench-call-${profile}-${call.mode}`,
      host: net.publicIp,
      args: [
        '--turn', '--turn-listen', `${net.publicIp}:3478`,
        ...(call.mode === 'mesh' ? ['--sfu', 'off'] : ['--sfu-threshold', String(call.n)]),
      ],
    });
    for (const home of homes) {
      browsers.push(await launchBrowser({ videoFile: pattern, netns: net.homes[home.name].ns, secureOrigin: server.url }));
    }
    return await runCall(browsers, server, call, profile);
  } finally {
    for (const b of browsers) await b.close().catch(() => {});
    await server?.stop();
    for (const fn of cleanups.reverse()) await fn();
  }
}

async function main() {
  mkdirSync(RESULTS, { recursive: true });
  mkdirSync(OUT, { recursive: true });
  const pattern = opts['default-camera']
    ? undefined
    : writePattern(join(RESULTS, `pattern-${WIDTH}x${HEIGHT}-${FPS}-${FRAMES}.y4m`));
  const servers = {};
  const serverFor = async (mode) => {
    servers[mode] ??= await startServer({ name: `bench-call-${mode}`, args: mode === 'mesh' ? ['--sfu', 'off'] : [] });
    return servers[mode];
  };
  const browser = await launchBrowser({ videoFile: pattern });
  const report = {
    date: new Date().toISOString().slice(0, 16).replace('T', ' '),
    machine: {
      cpus: cpus().length,
      cpu: cpus()[0]?.model.trim() ?? 'unknown',
      chromium: execFileSync(process.env.CHROMIUM || '/usr/bin/chromium', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(),
    },
    camera: opts['default-camera'] ? 'default' : 'pattern',
    trials: TRIALS,
    duration: DURATION_S,
    captures: CAPTURES,
    budgets: BUDGETS,
    runs: [],
  };
  try {
    for (const call of CALLS) {
      report.runs.push(await runCall(browser, await serverFor(call.mode), call));
    }
  } finally {
    await browser.close().catch(() => {});
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  }
  for (const network of NETWORKS) {
    for (const call of NETWORK_CALLS) {
      report.runs.push(await onNetwork(network, call, pattern));
    }
  }
  if (NETWORKS.length) {
    report.profiles = Object.fromEntries(NETWORKS.map((n) => [n, PROFILES[n]]));
  }
  const two = report.runs.find((r) => r.n === 2 && r.mode === 'mesh');
  if (two) {
    report.budgetCheck = Object.fromEntries(Object.entries(BUDGETS).map(([k, budget]) => [k, two.median[k] !== null && two.median[k] <= budget]));
  }
  const md = markdown(report);
  writeFileSync(join(OUT, 'call.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(OUT, 'call.md'), `${md}\n`);
  console.log(md);
  if (two) {
    const over = Object.entries(report.budgetCheck).filter(([, ok]) => !ok).map(([k]) => k);
    console.log('');
    console.log(over.length === 0
      ? 'two-way call: every step within its budget'
      : `two-way call: over budget: ${over.join(', ')}`);
  }
}

await main();
