/**
 * `node dist/scripts/bench-jpeg.js` (a micro-benchmark, not a test): the preview JPEG encoders
 * compared on real video frames at the preview sizes, same settings for all (quality 75, 4:4:4,
 * baseline): jpeg-js (pure JS; wants RGBA, so the RGB→RGBA copy into a reused buffer is counted) and sharp
 * through the daemon's own JpegEncoder (libvips + mozjpeg's libjpeg-turbo; asynchronous: each
 * encode is awaited, so its wall time includes the hop to libuv's thread pool).
 *
 * Frames: the first --frames frames of every clip in the shared videos folder, decoded by the
 * project's ffmpeg at 480×360; 240×180 is the preview path's own box downscale of them.
 * Time: CPU time of the whole process (process.cpuUsage(): every thread, so sharp's worker
 * threads count) and wall time, per encode, over --blocks blocks of --per-block encodes per
 * encoder, the encoders interleaved block by block (the machine is shared and noisy): the
 * median block and the mean are printed. Size: mean bytes per frame; PSNR (dB, decoded by
 * jpeg-js) shows the sizes are at comparable fidelity.
 *
 * Flags: --frames N (4 per clip) --blocks N (15) --per-block N (40) --quality Q (75) --json
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { JpegEncoder } from '../pipeline/publish/jpeg-encoder.js';
import { RgbDownscaler } from '../pipeline/publish/rgb-downscale.js';
import { FFMPEG_PATH, SAMPLE_CLIP_HEIGHT, SAMPLE_CLIP_WIDTH, VIDEOS_DIR } from '../test/helpers/paths.js';
import { parseFlags } from './flags.js';

const flags = parseFlags('node dist/scripts/bench-jpeg.js', {
  frames: { type: 'string', default: '4' },
  blocks: { type: 'string', default: '15' },
  'per-block': { type: 'string', default: '40' },
  quality: { type: 'string', default: '75' },
  json: { type: 'boolean', default: false },
});
const FRAMES = Number(flags.frames);
const BLOCKS = Number(flags.blocks);
const PER_BLOCK = Number(flags['per-block']);
const QUALITY = Number(flags.quality);

interface Image {
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** Encodes one RGB24 image; sync encoders return the bytes, sharp a promise of them. */
type Encode = (img: Image) => Uint8Array | Promise<Uint8Array>;

interface Encoder {
  readonly name: string;
  readonly encode: Encode;
}

function encoders(): Encoder[] {
  // sharp's libvips operation cache is off (jpeg-encoder.ts), so repeated frames are not free.
  const viaSharp = new JpegEncoder(QUALITY);
  let rgba = new Uint8Array(0);
  return [
    {
      name: 'jpeg-js',
      encode: (img) => {
        const n = img.width * img.height;
        if (rgba.length < n * 4) rgba = new Uint8Array(n * 4);
        for (let i = 0, j = 0; i < n * 3; i += 3, j += 4) {
          rgba[j] = img.rgb[i] as number;
          rgba[j + 1] = img.rgb[i + 1] as number;
          rgba[j + 2] = img.rgb[i + 2] as number;
          rgba[j + 3] = 255;
        }
        return jpeg.encode({ data: rgba.subarray(0, n * 4), width: img.width, height: img.height }, QUALITY).data;
      },
    },
    { name: 'sharp', encode: (img) => viaSharp.encode(img.rgb, img.width, img.height) },
  ];
}

/** The first FRAMES frames of every clip, rgb24 at 480×360, decoded by the project's ffmpeg. */
function decodeFrames(): Image[] {
  const w = SAMPLE_CLIP_WIDTH;
  const h = SAMPLE_CLIP_HEIGHT;
  const out: Image[] = [];
  const clips = readdirSync(VIDEOS_DIR).filter((f) => f.endsWith('.mp4')).sort();
  if (clips.length === 0) throw new Error(`bench-jpeg: no .mp4 clip in ${VIDEOS_DIR}`);
  for (const clip of clips) {
    const args = ['-nostdin', '-v', 'error', '-i', join(VIDEOS_DIR, clip), '-frames:v', String(FRAMES), '-vf', `scale=${w}:${h}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'];
    const r = spawnSync(FFMPEG_PATH, args, { maxBuffer: FRAMES * w * h * 3 + 1024 });
    if (r.status !== 0 || r.stdout.length !== FRAMES * w * h * 3) throw new Error(`bench-jpeg: ffmpeg decode of ${clip} failed: ${r.stderr.toString()}`);
    for (let k = 0; k < FRAMES; k++) out.push({ rgb: new Uint8Array(r.stdout.subarray(k * w * h * 3, (k + 1) * w * h * 3)), width: w, height: h });
  }
  return out;
}

function downscaled(frames: readonly Image[], width: number): Image[] {
  return frames.map((f) => {
    const s = new RgbDownscaler(f.width, f.height, width);
    return { rgb: s.scale(f.rgb).slice(), width: s.width, height: s.height };
  });
}

function psnr(a: Uint8Array, rgba: Uint8Array): number {
  let se = 0;
  const n = a.length / 3;
  for (let p = 0; p < n; p++) {
    for (let c = 0; c < 3; c++) se += ((a[3 * p + c] as number) - (rgba[4 * p + c] as number)) ** 2;
  }
  return 10 * Math.log10((255 * 255) / (se / a.length));
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

interface Row {
  encoder: string;
  size: string;
  bytes: number;
  psnrDb: number;
  cpuMsMedian: number;
  cpuMsMean: number;
  wallMsMedian: number;
  wallMsMean: number;
  encodes: number;
}

async function measure(images: readonly Image[], all: readonly Encoder[]): Promise<Row[]> {
  const size = `${images[0]?.width}x${images[0]?.height}`;
  const cpu = new Map<string, number[]>(all.map((e) => [e.name, []]));
  const wall = new Map<string, number[]>(all.map((e) => [e.name, []]));
  const quality = new Map<string, { bytes: number; psnr: number }>();
  for (const e of all) {
    let bytes = 0;
    let db = 0;
    for (const img of images) {
      const out = await e.encode(img); // also the warm-up
      bytes += out.length;
      db += psnr(img.rgb, jpeg.decode(out, { useTArray: true, formatAsRGBA: true }).data);
    }
    quality.set(e.name, { bytes: bytes / images.length, psnr: db / images.length });
  }
  for (let b = 0; b < BLOCKS; b++) {
    for (const e of all) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < PER_BLOCK; i++) await e.encode(images[i % images.length] as Image);
      const dt = performance.now() - t0;
      const dc = process.cpuUsage(c0);
      (wall.get(e.name) as number[]).push(dt / PER_BLOCK);
      (cpu.get(e.name) as number[]).push((dc.user + dc.system) / 1000 / PER_BLOCK);
    }
  }
  return all.map((e) => {
    const c = cpu.get(e.name) as number[];
    const w = wall.get(e.name) as number[];
    const q = quality.get(e.name) as { bytes: number; psnr: number };
    return {
      encoder: e.name,
      size,
      bytes: Math.round(q.bytes),
      psnrDb: q.psnr,
      cpuMsMedian: median(c),
      cpuMsMean: c.reduce((a, x) => a + x, 0) / c.length,
      wallMsMedian: median(w),
      wallMsMean: w.reduce((a, x) => a + x, 0) / w.length,
      encodes: BLOCKS * PER_BLOCK,
    };
  });
}

async function main(): Promise<void> {
  const full = decodeFrames();
  const all = encoders();
  const rows = [...(await measure(downscaled(full, 240), all)), ...(await measure(full, all))];
  if (flags.json) {
    console.log(JSON.stringify(rows));
    return;
  }
  console.log(
    `${full.length} frames (${FRAMES} per clip) · quality ${QUALITY}, 4:4:4, baseline · ${BLOCKS} blocks × ${PER_BLOCK} encodes per encoder and size · ms per encode: median block (mean)`,
  );
  console.log(`${'size'.padEnd(8)} ${'encoder'.padEnd(13)} ${'bytes'.padStart(7)} ${'PSNR dB'.padStart(8)} ${'CPU ms'.padStart(15)} ${'wall ms'.padStart(15)}`);
  for (const r of rows) {
    const ms = (m: number, mean: number): string => `${m.toFixed(3)} (${mean.toFixed(3)})`.padStart(15);
    console.log(
      `${r.size.padEnd(8)} ${r.encoder.padEnd(13)} ${String(r.bytes).padStart(7)} ${r.psnrDb.toFixed(2).padStart(8)} ${ms(r.cpuMsMedian, r.cpuMsMean)} ${ms(r.wallMsMedian, r.wallMsMean)}`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
  process.exitCode = 1;
});
