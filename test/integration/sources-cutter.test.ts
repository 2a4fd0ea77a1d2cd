import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { before, describe, it } from 'node:test';
import { FrameCutter, FramePool, type PoolSlot } from '../../pipeline/sources/index.js';
import { FFMPEG_PATH, SAMPLE_CLIP_VAL } from '../helpers/paths.js';

const W = 96;
const H = 72;
const FRAME = W * H * 3;
const FRAMES = 100;
const decodeArgs = (w: number, h: number): string[] => [
  '-nostdin', '-hide_banner', '-loglevel', 'error', '-i', SAMPLE_CLIP_VAL,
  '-map', '0:v:0', '-vf', `scale=${w}:${h}:flags=bilinear`, '-vsync', 'passthrough',
  '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
];
const DECODE = decodeArgs(W, H);

/** Every frame of the clip decoded in one shot: the reference bytes. */
let reference: Buffer;

/** Collects the cutter's frames as copies and gives the slot straight back. */
function collector(pool: FramePool): { frames: Buffer[]; indices: number[]; exhausted: number[]; sink: ConstructorParameters<typeof FrameCutter>[1] } {
  const frames: Buffer[] = [];
  const indices: number[] = [];
  const exhausted: number[] = [];
  return {
    frames,
    indices,
    exhausted,
    sink: {
      onFrame(slot: PoolSlot, index: number) {
        frames.push(Buffer.from(slot.data));
        indices.push(index);
        pool.release(slot);
      },
      onPoolExhausted(index: number) {
        exhausted.push(index);
      },
    },
  };
}

/** Deterministic pseudo-random chunk sizes (LCG), so a failure reproduces. */
function* oddSizes(seed: number, max: number): Generator<number> {
  let s = seed;
  for (;;) {
    s = (s * 1103515245 + 12345) % 2147483648;
    yield 1 + (s % max);
  }
}

before(() => {
  const r = spawnSync(FFMPEG_PATH, DECODE, { maxBuffer: 64 * 1024 * 1024, timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr.toString());
  reference = r.stdout;
  assert.equal(reference.length, FRAMES * FRAME);
});

describe('FrameCutter', () => {
  const chunkings: [string, () => Iterator<number>][] = [
    ['1-byte chunks for the first frames then 7', () => [...Array(FRAME * 2).fill(1)].concat(Array(1e6).fill(7)).values()],
    ['frame-1 bytes', () => Array(1e4).fill(FRAME - 1).values()],
    ['frame+1 bytes', () => Array(1e4).fill(FRAME + 1).values()],
    ['3 frames and a bit', () => Array(1e4).fill(FRAME * 3 + 17).values()],
    ['random 1..65536', () => oddSizes(42, 65_536)],
    ['random 1..4099', () => oddSizes(7, 4099)],
  ];
  for (const [name, sizes] of chunkings) {
    it(`cuts the exact frames from ${name}`, () => {
      const pool = new FramePool(FRAME, 2);
      const c = collector(pool);
      const cutter = new FrameCutter(pool, c.sink);
      const it = sizes();
      for (let pos = 0; pos < reference.length; ) {
        const n = Math.min(it.next().value as number, reference.length - pos);
        cutter.push(reference.subarray(pos, pos + n));
        pos += n;
      }
      assert.equal(c.frames.length, FRAMES);
      assert.deepEqual(c.indices, [...Array(FRAMES).keys()]);
      for (let i = 0; i < FRAMES; i++) {
        assert.ok(c.frames[i]?.equals(reference.subarray(i * FRAME, (i + 1) * FRAME)), `frame ${i} bytes differ`);
      }
      assert.equal(pool.available, 2, 'every slot back in the pool');
      assert.equal(cutter.reset(), 0, 'no partial frame left');
    });
  }

  it('cuts the same bytes from a live ffmpeg pipe (real chunking) as the single-shot decode', async () => {
    // Full-size frames (518 400 B) are larger than a pipe buffer, so reads split them.
    const fullFrame = 480 * 360 * 3;
    const single = spawnSync(FFMPEG_PATH, decodeArgs(480, 360), { maxBuffer: 128 * 1024 * 1024, timeout: 30_000 });
    assert.equal(single.status, 0, single.stderr.toString());
    const pool = new FramePool(fullFrame, 3);
    const c = collector(pool);
    const cutter = new FrameCutter(pool, c.sink);
    const child = spawn(FFMPEG_PATH, decodeArgs(480, 360), { stdio: ['ignore', 'pipe', 'inherit'] });
    let chunks = 0;
    let misaligned = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      chunks++;
      if (chunk.length % fullFrame !== 0) misaligned++;
      cutter.push(chunk);
    });
    const code = await new Promise<number | null>((r) => child.on('close', r));
    assert.equal(code, 0);
    assert.ok(chunks > 1 && misaligned > 0, `stdout arrived in ${chunks} chunks, ${misaligned} not frame-aligned`);
    assert.equal(c.frames.length, FRAMES);
    for (let i = 0; i < FRAMES; i++) {
      assert.ok(c.frames[i]?.equals(single.stdout.subarray(i * fullFrame, (i + 1) * fullFrame)), `frame ${i} bytes differ`);
    }
  });

  it('drops whole frames as pool_exhausted while no buffer is free, and resumes on release', () => {
    const pool = new FramePool(FRAME, 2);
    const got: { slot: PoolSlot; index: number }[] = [];
    const exhausted: number[] = [];
    const cutter = new FrameCutter(pool, {
      onFrame: (slot, index) => got.push({ slot, index }),
      onPoolExhausted: (index) => exhausted.push(index),
    });
    // 5 frames in odd pieces while the consumer holds every buffer.
    const five = reference.subarray(0, 5 * FRAME);
    for (let pos = 0; pos < five.length; pos += 10_007) cutter.push(five.subarray(pos, Math.min(pos + 10_007, five.length)));
    assert.deepEqual(got.map((g) => g.index), [0, 1]);
    assert.deepEqual(exhausted, [2, 3, 4]);
    for (const g of got.splice(0)) pool.release(g.slot);
    cutter.push(reference.subarray(5 * FRAME, 6 * FRAME));
    assert.deepEqual(got.map((g) => g.index), [5]);
    assert.ok(Buffer.from(got[0]!.slot.data).equals(reference.subarray(5 * FRAME, 6 * FRAME)), 'frame 5 intact');
  });

  it('never emits a partial frame: reset() discards it, frees its buffer and restarts the index', () => {
    const pool = new FramePool(FRAME, 1);
    const c = collector(pool);
    const cutter = new FrameCutter(pool, c.sink);
    cutter.push(reference.subarray(0, FRAME + 1234));
    assert.equal(c.frames.length, 1);
    assert.equal(pool.available, 0, 'partial frame holds the only buffer');
    assert.equal(cutter.reset(), 1234);
    assert.equal(pool.available, 1);
    assert.equal(c.frames.length, 1, 'partial frame not emitted');
    // The next child's first frame starts clean at index 0.
    cutter.push(reference.subarray(2 * FRAME, 3 * FRAME));
    assert.deepEqual(c.indices, [0, 0]);
    assert.ok(c.frames[1]?.equals(reference.subarray(2 * FRAME, 3 * FRAME)));
  });
});

describe('FramePool', () => {
  it('hands out preallocated, disjoint buffers and reports exhaustion with null', () => {
    const pool = new FramePool(12, 3);
    const a = pool.acquire();
    const b = pool.acquire();
    const c = pool.acquire();
    assert.ok(a && b && c);
    assert.equal(pool.acquire(), null);
    assert.equal(pool.available, 0);
    assert.deepEqual([a.index, b.index, c.index], [0, 1, 2]);
    assert.equal(a.data.buffer, c.data.buffer, 'one backing allocation');
    a.data.fill(1);
    b.data.fill(2);
    c.data.fill(3);
    assert.deepEqual([...a.data], Array(12).fill(1));
    assert.deepEqual([...b.data], Array(12).fill(2));
    pool.release(b);
    assert.equal(pool.acquire(), b, 'released slot is reused');
  });

  it('throws on double release and on a foreign slot', () => {
    const pool = new FramePool(4, 2);
    const other = new FramePool(4, 2);
    const s = pool.acquire();
    assert.ok(s);
    pool.release(s);
    assert.throws(() => pool.release(s), /released twice/);
    const foreign = other.acquire();
    assert.ok(foreign);
    assert.throws(() => pool.release(foreign), /does not belong/);
    assert.throws(() => new FramePool(0, 1), RangeError);
    assert.throws(() => new FramePool(4, 0), RangeError);
  });
});
