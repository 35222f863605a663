// Call-quality benchmark (not a test): 2-, 3- and 4-way calls through the real web app, in the
// same loopback-only network namespace as the browser tests (run it with scripts/bench-call.sh).
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
import {
  FPS, FRAMES, HEIGHT, WIDTH, lumaFrame, psnr, readMarker, scaleLuma, ssim, writePattern,
} from './pattern.js';

const { values: opts } = parseArgs({
  options: {
    sizes: { type: 'string', default: '2,3,4' },
    trials: { type: 'string', default: '5' },
    duration: { type: 'string', default: '20' },
    captures: { type: 'string', default: '4' },
  },
});
const SIZES = opts.sizes.split(',').map(Number);
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
async function trial(browser, server, n, index, keep) {
  const room = `bench-${n}-${index}`;
  const people = [];
  for (const name of NAMES.slice(0, n - 1)) {
    const person = await openPerson(browser, server, room, name);
    await joinAs(person.page, name);
    await waitFor(`${name} to be welcomed`, () => peerId(person.page));
    people.push(person);
  }
  for (const person of people) await framesFrom(person, people.filter((p) => p !== person));
  const last = await openPerson(browser, server, room, NAMES[n - 1]);
  const readyMs = await last.page.evaluate(() => window.__bench.ready);
  await last.page.getByLabel('Your name').fill(last.name);
  await sleep(300);
  await last.page.getByRole('button', { name: 'Join', exact: true }).click();
  const all = [...people, last];
  await framesFrom(last, people);
  for (const person of people) await framesFrom(person, [last]);

  // Everything in epoch milliseconds, so that pages with different time origins compare.
  const lastMarks = await last.page.evaluate(() => {
    const origin = performance.timeOrigin;
    const events = window.__treff.events();
    const first = (name) => events.find((e) => e.name === name);
    const ice = events.filter((e) => e.name === 'ice-connected');
    return {
      click: origin + window.__bench.click,
      welcome: origin + first('welcome').t,
      offer: first('offer-sent') ? origin + first('offer-sent').t : null,
      // ICE connected to every peer: the last of the first "connected" per peer.
      ice: Math.max(...[...new Set(ice.map((e) => e.connection))].map((p) => origin + ice.find((e) => e.connection === p).t)),
      icePeers: new Set(ice.map((e) => e.connection)).size,
      frames: Object.values(window.__bench.frames).map((t) => origin + t),
    };
  });
  const othersSawLast = await Promise.all(people.map((p) => p.page.evaluate(
    (label) => performance.timeOrigin + window.__bench.frames[label],
    `Video of ${last.name}`,
  )));
  const since = (t) => (t === null ? null : t - lastMarks.click);
  const times = {
    ready: readyMs,
    welcome: since(lastMarks.welcome),
    offer: since(lastMarks.offer),
    ice: lastMarks.icePeers === n - 1 ? since(lastMarks.ice) : null,
    firstFrame: since(Math.min(...lastMarks.frames)),
    allFrames: since(Math.max(...lastMarks.frames, ...othersSawLast)),
  };
  if (!keep) await Promise.all(all.map((p) => p.page.close()));
  return { times, people: all };
}

/** Cumulative receive stats per (receiver, sender) and RTT per connection, from getStats(). */
function receiveStats(page) {
  return page.evaluate(async () => {
    const out = {};
    for (const [label, pc] of window.__treff.connections()) {
      const peer = label.replace(/^mesh\//, '');
      const report = await pc.getStats();
      const entry = { rtt: null };
      for (const s of report.values()) {
        if (s.type === 'inbound-rtp' && s.kind === 'video' && s.mid === pc.getTransceivers().find((t) => t.receiver.track.kind === 'video')?.mid) {
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
        if (s.type === 'inbound-rtp' && s.kind === 'audio') {
          entry.audioPacketsReceived = s.packetsReceived ?? 0;
          entry.audioPacketsLost = s.packetsLost ?? 0;
        }
        if (s.type === 'transport' && s.selectedCandidatePairId) {
          entry.rtt = report.get(s.selectedCandidatePairId)?.currentRoundTripTime ?? null;
        }
      }
      out[peer] = entry;
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
  for (let k = 0; k < CAPTURES; k++) {
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

function markdown(report) {
  const lines = [];
  lines.push(`Measured ${report.date} on ${report.machine.cpus}× ${report.machine.cpu}, ${report.machine.chromium}; `
    + `fake cameras send a ${WIDTH}x${HEIGHT} ${FPS} fps test pattern, everything on loopback.`);
  lines.push('');
  lines.push(`Connection: median of ${report.trials} joins, ms from the last person's Join click `
    + '(app ready: ms from navigation start to the join form).');
  lines.push('');
  lines.push('| call | app ready | welcome | first offer sent | ICE connected (all) | first remote frame | every new stream shown |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const run of report.runs) {
    const m = run.median;
    lines.push(`| ${run.n}-way | ${fmt(m.ready)} | ${fmt(m.welcome)} | ${fmt(m.offer)} | ${fmt(m.ice)} | ${fmt(m.firstFrame)} | ${fmt(m.allFrames)} |`);
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
    lines.push(`| ${run.n}-way | ${fmt(q.fpsMean, 1)} / ${fmt(q.fpsMin, 1)} | ${q.resolutions.join(', ')} | ${fmt(q.kbpsMean)} `
      + `| ${fmt(q.lossPct, 2)} / ${fmt(q.audioLossPct, 2)} | ${q.freezes} / ${fmt(q.freezeSeconds, 1)} | ${fmt(q.rttMs, 1)} `
      + `| ${fmt(q.psnr, 1)} | ${fmt(q.ssim, 3)} |`);
  }
  return lines.join('\n');
}

async function main() {
  mkdirSync(RESULTS, { recursive: true });
  mkdirSync(OUT, { recursive: true });
  const pattern = writePattern(join(RESULTS, `pattern-${WIDTH}x${HEIGHT}-${FPS}-${FRAMES}.y4m`));
  const server = await startServer({ name: 'bench-call' });
  const browser = await launchBrowser({ videoFile: pattern });
  const report = {
    date: new Date().toISOString().slice(0, 16).replace('T', ' '),
    machine: {
      cpus: cpus().length,
      cpu: cpus()[0]?.model.trim() ?? 'unknown',
      chromium: execFileSync(process.env.CHROMIUM || '/usr/bin/chromium', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(),
    },
    trials: TRIALS,
    duration: DURATION_S,
    captures: CAPTURES,
    budgets: BUDGETS,
    runs: [],
  };
  try {
    for (const n of SIZES) {
      const trials = [];
      let kept;
      for (let i = 0; i < TRIALS; i++) {
        const keep = i === TRIALS - 1;
        const { times, people } = await trial(browser, server, n, i, keep);
        trials.push(times);
        if (keep) kept = people;
        console.error(`${n}-way join ${i + 1}/${TRIALS}: ${JSON.stringify(Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v === null ? null : Math.round(v)])))}`);
      }
      const quality = await measure(kept);
      await Promise.all(kept.map((p) => p.page.close()));
      const keys = Object.keys(trials[0]);
      const run = {
        n,
        trials,
        median: Object.fromEntries(keys.map((k) => [k, median(trials.map((t) => t[k]))])),
        quality,
      };
      report.runs.push(run);
      console.error(`${n}-way quality: ${JSON.stringify(quality.summary)}`);
    }
  } finally {
    await browser.close().catch(() => {});
    await server.stop();
  }
  const two = report.runs.find((r) => r.n === 2);
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
