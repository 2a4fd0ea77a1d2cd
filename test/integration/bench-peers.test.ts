/**
 * The bench's peer pipelines (scripts/peers/, run by `npm run bench -- --peers`) do the work they are compared
 * on: each runs for a few seconds on the bundled clip, 2 streams, and a real WebSocket client checks that masks
 * of both streams arrive in segd's binary format, with the model card's size and model id, and that each of
 * stream 0's first frames gives exactly the mask ONNX Runtime computes here for the very frame the peer decoded
 * (the peer dumps it: --dump-dir). That frame is checked against the real ffmpeg's decode of the same frame
 * index, so the peer decodes the right frame, in RGB order, at the model's size. No timing is asserted.
 *
 * The peers' venv (Debian's python3 + python3-gi, onnxruntime/PyAV/websockets from PyPI) is built or reused by
 * scripts/peers/setup_env.sh, which scripts/setup.sh --test runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import WebSocket from 'ws';
import { decodeMessage, type MaskMessage } from '../../clients/ts/protocol-client.js';
import { peerArgs, peersPython, PEERS, startPeer, stopPeer, type PeerName } from '../../scripts/bench-peers.js';
import { makeTempDir } from '../helpers/daemon.js';
import { BUNDLED_SAMPLE_CLIP, FFMPEG_PATH, REPO_ROOT } from '../helpers/paths.js';

const MODEL = join(REPO_ROOT, 'models', 'sctnet-s-camvid-int8.onnx');
const CARD = join(REPO_ROOT, 'models', 'sctnet-s-camvid-int8.json');
const card = JSON.parse(readFileSync(CARD, 'utf8')) as { name: string; input: { width: number; height: number }; classes: unknown[] };
const W = card.input.width;
const H = card.input.height;
const FRAME_BYTES = W * H * 3;
/** Stream 0's frames 0..DUMPED-1 are dumped by the peer and checked mask for mask. */
const DUMPED = 4;

/** The clip's first `n` frames at the model's size, decoded by the real ffmpeg. */
function ffmpegFrames(n: number): Uint8Array[] {
  const args = ['-nostdin', '-v', 'error', '-i', BUNDLED_SAMPLE_CLIP, '-frames:v', String(n), '-vf', `scale=${W}:${H}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'];
  const r = spawnSync(FFMPEG_PATH, args, { maxBuffer: n * FRAME_BYTES + 1024 });
  assert.equal(r.status, 0, `ffmpeg failed: ${r.stderr?.toString()}`);
  return Array.from({ length: n }, (_, k) => new Uint8Array(r.stdout.subarray(k * FRAME_BYTES, (k + 1) * FRAME_BYTES)));
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs((a[i] as number) - (b[i] as number));
  return sum / a.length;
}

/** Masks received until stream 0's first DUMPED frames and some of stream 1 have arrived (or the peer dies). */
async function collect(port: number): Promise<MaskMessage[]> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
  const masks: MaskMessage[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const wanted = new Set(Array.from({ length: DUMPED }, (_, k) => k));
      let stream1 = 0;
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        assert.ok(isBinary, 'a peer sends only binary mask messages');
        const m = decodeMessage(data);
        assert.equal(m.kind, 'mask');
        masks.push(m as MaskMessage);
        if (m.kind === 'mask' && m.streamId === 'bench0') wanted.delete(m.seq);
        if (m.kind === 'mask' && m.streamId === 'bench1') stream1++;
        if (wanted.size === 0 && stream1 >= 2) resolve();
      });
      ws.once('error', reject);
      ws.once('close', () => reject(new Error('the peer closed the connection')));
    });
  } finally {
    ws.removeAllListeners('close');
    ws.close();
  }
  return masks;
}

describe('bench peers: masks as ONNX Runtime computes them for the frames the peer decoded', { timeout: 600_000 }, () => {
  let python: string;
  let session: InferenceSession;
  let reference: Uint8Array[];

  before(async () => {
    python = peersPython();
    session = await InferenceSession.create(MODEL, { intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
    reference = ffmpegFrames(DUMPED);
  });
  after(async () => {
    await session?.release();
  });

  for (const name of PEERS) {
    it(`${name}: 2 streams, masks of both, stream 0's first ${DUMPED} identical to ONNX Runtime's on the peer's frames`, async () => {
      const tmp = makeTempDir(`segd-peer-${name}-`);
      const args = peerArgs(name as PeerName, {
        model: MODEL,
        card: CARD,
        clip: BUNDLED_SAMPLE_CLIP,
        streams: 2,
        maxBatch: 2,
        realtime: false,
        intraOpThreads: 2,
        interOpThreads: 1,
        allowSpinning: false,
        decoderThreads: 1,
      });
      const { child, port } = await startPeer(name as PeerName, python, [...args, '--start-on-client', '--dump-dir', tmp.dir, '--dump-frames', String(DUMPED)]);
      let masks: MaskMessage[];
      try {
        masks = await collect(port);
      } finally {
        await stopPeer(child);
      }
      try {
        for (const m of masks) {
          assert.equal(m.encoding, 'raw');
          assert.equal(m.modelId, card.name);
          assert.deepEqual([m.width, m.height], [W, H]);
          assert.equal(m.payload.length, W * H);
          assert.ok(Number.isFinite(m.captureTimeMs) && m.captureTimeMs > 0, 'a capture time to measure latency from');
        }
        assert.deepEqual([...new Set(masks.map((m) => m.streamId))].sort(), ['bench0', 'bench1']);
        for (let seq = 0; seq < DUMPED; seq++) {
          const frame = new Uint8Array(readFileSync(join(tmp.dir, `${seq}.rgb`)));
          assert.equal(frame.length, FRAME_BYTES);
          // The right frame, in RGB order: close to ffmpeg's decode of the same index (decoders and colour
          // conversions differ by rounding only; BGR order or another frame is far off).
          const own = meanAbsDiff(frame, reference[seq] as Uint8Array);
          assert.ok(own < 3, `${name} frame ${seq}: mean |peer − ffmpeg| = ${own.toFixed(2)}, expected < 3 (same frame, RGB)`);
          const mask = masks.find((m) => m.streamId === 'bench0' && m.seq === seq) as MaskMessage;
          const out = await session.run({ frames: new Tensor('uint8', frame, [1, H, W, 3]) });
          const expected = (out['mask'] as Tensor).data as Uint8Array;
          const differing = expected.reduce((n, v, i) => n + (v === mask.payload[i] ? 0 : 1), 0);
          assert.equal(differing, 0, `${name} mask ${seq}: ${differing} of ${W * H} class ids differ from ONNX Runtime's for the peer's frame`);
          assert.ok(mask.payload.every((id) => id < card.classes.length), 'class ids within the model card');
        }
      } finally {
        tmp.cleanup();
      }
    });
  }
});
