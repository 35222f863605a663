// Watching what a page shows, for tests that judge a call by its pictures and sound: every
// frame each remote camera presents (so the longest frozen stretch is measured where it
// happens), the packets of each person's played microphone track (the longest silence), and
// the receivers' counters around a freeze.

/**
 * Starts watching, in the page, every remote camera it shows: each frame presented (by
 * requestVideoFrameCallback, whichever stream the tile plays, and on a new <video> too) stamps
 * the time, so the longest stretch without a new frame is measured where it happens. When the
 * page's main thread was busy, one callback stands for several presented frames
 * (`presentedFrames` counts them): the stretch is then shared among them, so a busy page is not
 * taken for a frozen picture.
 */
export function watchFrames(page) {
  return page.evaluate(() => {
    if (window.__gaps) return;
    const gaps = { last: {}, longest: {}, since: performance.now() };
    window.__gaps = gaps;
    const hooked = new WeakSet();
    const hook = (video) => {
      const label = video.getAttribute('aria-label');
      let presented;
      const tick = (now, metadata) => {
        const frames = presented === undefined ? 1 : Math.max(1, metadata.presentedFrames - presented);
        presented = metadata.presentedFrames;
        const prev = gaps.last[label];
        const gap = prev === undefined ? 0 : (now - prev) / frames;
        if (gap > (gaps.longest[label]?.ms ?? 0)) {
          gaps.longest[label] = { ms: gap, from: prev - gaps.since };
        }
        gaps.last[label] = now;
        if (video.isConnected) video.requestVideoFrameCallback(tick);
      };
      video.requestVideoFrameCallback(tick);
    };
    setInterval(() => {
      for (const video of document.querySelectorAll('video[aria-label^="Video of "]')) {
        if (!hooked.has(video)) {
          hooked.add(video);
          hook(video);
        }
      }
    }, 50);
    // Every 250 ms (skipped while the last round still runs), from the same getStats():
    // - what each remote camera's receiver got: whether packets stopped coming or the decoder
    //   waited for a keyframe, when a picture stood still;
    // - the packets the receiver of each person's played microphone track (the newest shown
    //   audio track of that person) got: a stretch with none is silence the person heard. The
    //   sampling adds up to one period, more while the page is busy. Keyed by peer id.
    gaps.samples = [];
    gaps.audio = { last: {}, longest: {}, prev: {} };
    let sampling = false;
    setInterval(async () => {
      if (sampling) return;
      sampling = true;
      try {
        const streams = window.__treff.streams();
        const played = new Map();
        for (const e of streams) if (e.kind === 'audio') played.set(e.peer, e);
        const packets = new Map();
        for (const [connection, pc] of window.__treff.connections()) {
          let stats;
          try {
            stats = await pc.getStats();
          } catch {
            continue; // closed meanwhile
          }
          const t = performance.now();
          for (const r of stats.values()) {
            if (r.type !== 'inbound-rtp') continue;
            const ours = (e) => e.connection === connection && (e.mid === r.mid || e.trackId === r.trackIdentifier);
            if (r.kind === 'audio') {
              for (const [peer, e] of played) if (ours(e)) packets.set(peer, r.packetsReceived);
              continue;
            }
            const filed = streams.find((e) => e.kind === 'camera' && ours(e));
            if (!filed) continue;
            gaps.samples.push({
              t,
              peer: filed.peer,
              connection,
              packets: r.packetsReceived,
              frames: r.framesDecoded,
              keyframes: r.keyFramesDecoded,
              width: r.frameWidth,
              plis: r.pliCount,
              nacks: r.nackCount,
            });
          }
        }
        if (gaps.samples.length > 2000) gaps.samples.splice(0, 1000);
        const now = performance.now();
        const audio = gaps.audio;
        for (const [peer, e] of played) {
          const count = packets.get(peer) ?? 0;
          const prev = audio.prev[peer];
          const alive = prev && prev.id === e.trackId ? count > prev.packets : count > 0;
          audio.prev[peer] = { id: e.trackId, packets: count };
          if (!alive) continue;
          const last = audio.last[peer];
          if (last !== undefined && now - last > (audio.longest[peer]?.ms ?? 0)) {
            audio.longest[peer] = { ms: now - last, from: last - gaps.since };
          }
          audio.last[peer] = now;
        }
      } finally {
        sampling = false;
      }
    }, 250);
  });
}

/** Forgets what `watchFrames` saw so far: the next `longestFreeze` counts from now. */
export function restartWatch(page) {
  return page.evaluate(() => {
    const gaps = window.__gaps;
    gaps.since = performance.now();
    gaps.longest = {};
    for (const label of Object.keys(gaps.last)) gaps.last[label] = gaps.since;
    gaps.audio.longest = {};
    for (const label of Object.keys(gaps.audio.last)) gaps.audio.last[label] = gaps.since;
  });
}

/**
 * What happened on a page since the watch (re)started, one line per event, with what the
 * receiver of `freeze.name`'s camera counted around the freeze (packets, frames and keyframes
 * decoded, width, PLIs and NACKs sent).
 */
export async function timeline(page, people, freeze) {
  const names = Object.fromEntries(people.map((p) => [p.id, p.name]));
  const peer = people.find((p) => `Video of ${p.name}` === freeze.name)?.id;
  const { events, samples } = await page.evaluate(([peer, from, ms]) => {
    const since = window.__gaps.since;
    return {
      events: window.__treff.events()
        .filter((e) => e.t >= since && !/^(ice|connection)-(checking|new)/.test(e.name))
        .map((e) => ({ ...e, t: Math.round(e.t - since) })),
      samples: window.__gaps.samples
        .filter((s) => s.peer === peer && s.t - since >= from - 1000 && s.t - since <= from + ms + 1000)
        .map((s) => ({ ...s, t: Math.round(s.t - since) })),
    };
  }, [peer, freeze.from, freeze.ms]);
  const name = (text) => (text ?? '').replace(/[a-z0-9]{10}$/, (id) => names[id] ?? id);
  return [
    ...events.map((e) => `  ${e.t} ms ${e.name} ${name(e.connection)}`),
    `  receiver of ${freeze.name} around the freeze:`,
    ...samples.map((s) => `  ${s.t} ms ${name(s.connection)} packets ${s.packets} frames ${s.frames} `
      + `keyframes ${s.keyframes} width ${s.width} plis ${s.plis} nacks ${s.nacks}`),
  ].join('\n');
}

/**
 * The longest time, since the watch (re)started, that the page showed no new frame of any of
 * `names`, counting a stretch that is still going on: `{ ms, name, from }` (`from`: ms after
 * the start).
 */
export async function longestFreeze(page, names) {
  return longestGap(page, names.map((n) => `Video of ${n}`), 'video');
}

/**
 * Like `longestFreeze`, for the sound of `people` (`{name, id}`): the longest stretch in which
 * the track the page plays of one of them got no packet.
 */
export async function longestSilence(page, people) {
  const gap = await longestGap(page, people.map((p) => p.id), 'audio');
  return { ...gap, name: people.find((p) => p.id === gap.name)?.name ?? gap.name };
}

async function longestGap(page, keys, what) {
  return page.evaluate(([labels, what]) => {
    const gaps = what === 'audio' ? { ...window.__gaps.audio, since: window.__gaps.since } : window.__gaps;
    const now = performance.now();
    let worst = { ms: 0, name: null, from: null };
    for (const label of labels) {
      const last = gaps.last[label] ?? gaps.since;
      const candidates = [gaps.longest[label], { ms: now - last, from: last - gaps.since }];
      for (const c of candidates) {
        if (c && c.ms > worst.ms) worst = { ms: Math.round(c.ms), name: label, from: Math.round(c.from) };
      }
    }
    return worst;
  }, [keys, what]);
}
