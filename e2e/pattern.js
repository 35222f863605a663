// The call benchmark's test pattern: a deterministic video fed to Chromium as its fake camera, with
// each frame's number drawn into it, and the measures that compare a received frame with the frame
// that was sent (PSNR and SSIM of the luma).
//
// A frame is 640x480 I420 with limited-range luma (16..235): a checkerboard of shaded squares
// scrolling sideways, a bright disc moving on a circle, soft colour gradients, and at the top a
// strip of 16 black or white blocks: the frame number in 8 bits and its complement, so a frame
// whose marker does not decode cleanly is recognised and skipped.
import { closeSync, existsSync, openSync, renameSync, writeSync } from 'node:fs';

export const WIDTH = 640;
export const HEIGHT = 480;
export const FPS = 30;
/** Frames in the file; Chromium loops it. */
export const FRAMES = 150;
const BLOCK = 32;
const BITS = 8;
const MARKER_X = (WIDTH - 2 * BITS * BLOCK) / 2;

/** The luma plane of frame `i` (WIDTH x HEIGHT, limited range). */
export function lumaFrame(i) {
  const y = new Uint8Array(WIDTH * HEIGHT);
  const cx = WIDTH / 2 + 180 * Math.cos((2 * Math.PI * i) / FRAMES);
  const cy = HEIGHT / 2 + 120 * Math.sin((2 * Math.PI * i) / FRAMES);
  for (let row = 0; row < HEIGHT; row++) {
    for (let col = 0; col < WIDTH; col++) {
      const x = col + 4 * i;
      const square = ((Math.floor(x / 40) + Math.floor(row / 40)) & 1) === 0;
      // Shaded squares: a gradient inside each, so the encoder has texture to keep.
      let v = square ? 60 + ((x % 40) * 3) : 150 - (row % 40) * 2;
      const d = Math.hypot(col - cx, row - cy);
      if (d < 50) v = 220 - d;
      y[row * WIDTH + col] = Math.max(16, Math.min(235, Math.round(v)));
    }
  }
  // The marker strip: a grey band with the frame number's bits, then their complement.
  for (let row = 0; row < BLOCK; row++) y.fill(128, row * WIDTH, (row + 1) * WIDTH);
  const bits = [];
  for (let b = 0; b < BITS; b++) bits.push((i >> b) & 1);
  for (let b = 0; b < BITS; b++) bits.push(1 - ((i >> b) & 1));
  bits.forEach((bit, k) => {
    for (let row = 0; row < BLOCK; row++) {
      const start = row * WIDTH + MARKER_X + k * BLOCK;
      y.fill(bit ? 235 : 16, start, start + BLOCK);
    }
  });
  return y;
}

function chromaFrame(i) {
  const w = WIDTH / 2;
  const h = HEIGHT / 2;
  const u = new Uint8Array(w * h);
  const v = new Uint8Array(w * h);
  for (let row = 0; row < h; row++) {
    for (let col = 0; col < w; col++) {
      u[row * w + col] = Math.round(128 + 50 * Math.sin((col + 2 * i) / 40));
      v[row * w + col] = Math.round(128 + 50 * Math.cos(row / 30 - i / 25));
    }
  }
  // The marker stays grey so that its luma is not disturbed by colour.
  u.fill(128, 0, (BLOCK / 2) * w);
  v.fill(128, 0, (BLOCK / 2) * w);
  return [u, v];
}

/** Writes the pattern as a .y4m file to `path` unless it is there already. */
export function writePattern(path) {
  if (existsSync(path)) return path;
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  writeSync(fd, `YUV4MPEG2 W${WIDTH} H${HEIGHT} F${FPS}:1 Ip A1:1 C420jpeg\n`);
  for (let i = 0; i < FRAMES; i++) {
    writeSync(fd, 'FRAME\n');
    writeSync(fd, lumaFrame(i));
    for (const plane of chromaFrame(i)) writeSync(fd, plane);
  }
  closeSync(fd);
  renameSync(tmp, path);
  return path;
}

/**
 * The frame number in a received luma plane of any size, or null when the marker does not
 * decode (a frame in the middle of a change, or too damaged).
 */
export function readMarker(luma, width, height) {
  const sx = width / WIDTH;
  const sy = height / HEIGHT;
  const bits = [];
  for (let k = 0; k < 2 * BITS; k++) {
    // The middle half of the block, which scaling and compression leave clean.
    const x0 = Math.round((MARKER_X + k * BLOCK + BLOCK / 4) * sx);
    const x1 = Math.round((MARKER_X + k * BLOCK + (3 * BLOCK) / 4) * sx);
    const y0 = Math.round((BLOCK / 4) * sy);
    const y1 = Math.round(((3 * BLOCK) / 4) * sy);
    let sum = 0;
    let n = 0;
    for (let y = y0; y < Math.max(y1, y0 + 1); y++) {
      for (let x = x0; x < Math.max(x1, x0 + 1); x++) {
        sum += luma[y * width + x];
        n++;
      }
    }
    const mean = sum / n;
    if (mean > 70 && mean < 180) return null;
    bits.push(mean >= 128 ? 1 : 0);
  }
  let frame = 0;
  for (let b = 0; b < BITS; b++) {
    if (bits[b] === bits[b + BITS]) return null;
    frame |= bits[b] << b;
  }
  return frame < FRAMES ? frame : null;
}

/** `source` (WIDTH x HEIGHT) scaled to width x height by averaging the pixels each one covers. */
export function scaleLuma(source, width, height) {
  if (width === WIDTH && height === HEIGHT) return source;
  const out = new Uint8Array(width * height);
  const fx = WIDTH / width;
  const fy = HEIGHT / height;
  for (let y = 0; y < height; y++) {
    const r0 = Math.floor(y * fy);
    const r1 = Math.max(r0 + 1, Math.floor((y + 1) * fy));
    for (let x = 0; x < width; x++) {
      const c0 = Math.floor(x * fx);
      const c1 = Math.max(c0 + 1, Math.floor((x + 1) * fx));
      let sum = 0;
      for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) sum += source[r * WIDTH + c];
      out[y * width + x] = Math.round(sum / ((r1 - r0) * (c1 - c0)));
    }
  }
  return out;
}

/** Peak signal-to-noise ratio in dB of two equally sized luma planes (capped at 99). */
export function psnr(a, b) {
  let se = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    se += d * d;
  }
  const mse = se / a.length;
  return mse === 0 ? 99 : Math.min(99, 10 * Math.log10((255 * 255) / mse));
}

/** Mean structural similarity over 8x8 windows (step 4) of two luma planes. */
export function ssim(a, b, width, height) {
  const c1 = (0.01 * 255) ** 2;
  const c2 = (0.03 * 255) ** 2;
  let total = 0;
  let windows = 0;
  for (let y = 0; y + 8 <= height; y += 4) {
    for (let x = 0; x + 8 <= width; x += 4) {
      let sa = 0;
      let sb = 0;
      let saa = 0;
      let sbb = 0;
      let sab = 0;
      for (let r = y; r < y + 8; r++) {
        for (let c = x; c < x + 8; c++) {
          const p = a[r * width + c];
          const q = b[r * width + c];
          sa += p;
          sb += q;
          saa += p * p;
          sbb += q * q;
          sab += p * q;
        }
      }
      const n = 64;
      const ma = sa / n;
      const mb = sb / n;
      const va = saa / n - ma * ma;
      const vb = sbb / n - mb * mb;
      const cov = sab / n - ma * mb;
      total += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
      windows++;
    }
  }
  return total / windows;
}
