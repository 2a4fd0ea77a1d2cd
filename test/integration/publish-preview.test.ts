/**
 * Preview JPEGs (protocol message type 2): the encoder's (sharp) files decode in ffmpeg to the
 * source picture (PSNR), the box downscaler averages exactly, `preview` requests are validated, and
 * the publisher sends a preview right before the mask of the same frame, only to clients that
 * asked, within their rate limit, encoded once per frame and width however many clients want it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { decodeMessage, parseServerMessage, type BinaryMessage, type ServerMessage } from '../../clients/ts/protocol-client.js';
import { parseControlMessage } from '../../pipeline/publish/control-messages.js';
import { JpegEncoder } from '../../pipeline/publish/jpeg-encoder.js';
import { RgbDownscaler } from '../../pipeline/publish/rgb-downscale.js';
import { loadCamvidMasks, maskResult, startPublishServer } from '../helpers/publish-harness.js';
import { FFMPEG_PATH, SAMPLE_CLIP_HEIGHT as H, SAMPLE_CLIP_VAL, SAMPLE_CLIP_WIDTH as W } from '../helpers/paths.js';

function sampleFrame(): Uint8Array {
  const r = spawnSync(FFMPEG_PATH, ['-nostdin', '-v', 'error', '-i', SAMPLE_CLIP_VAL, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], {
    maxBuffer: W * H * 3 + 1024,
  });
  assert.equal(r.status, 0, r.stderr?.toString());
  return new Uint8Array(r.stdout);
}

/** Decodes a JPEG with ffmpeg (an independent decoder) to RGB24. */
function ffmpegDecode(jpeg: Uint8Array): { rgb: Buffer; stderr: string } {
  const r = spawnSync(FFMPEG_PATH, ['-nostdin', '-v', 'error', '-f', 'jpeg_pipe', '-i', 'pipe:0', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], {
    input: jpeg,
    maxBuffer: 8 * 1024 * 1024,
  });
  return { rgb: r.stdout, stderr: r.stderr.toString() };
}

function psnr(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let se = 0;
  for (let i = 0; i < a.length; i++) se += ((a[i] as number) - (b[i] as number)) ** 2;
  return 10 * Math.log10((255 * 255) / (se / a.length));
}

const SOCKETS: WebSocket[] = [];

/** A raw client that records every message in arrival order. */
async function recorder(url: string): Promise<{ ws: WebSocket; log: (BinaryMessage | ServerMessage)[]; reply: (msg: object) => Promise<ServerMessage> }> {
  const ws = new WebSocket(url);
  SOCKETS.push(ws);
  const log: (BinaryMessage | ServerMessage)[] = [];
  let wake: (() => void) | null = null;
  ws.on('message', (data, isBinary) => {
    const buf = data as Buffer;
    log.push(isBinary ? decodeMessage(buf) : parseServerMessage(buf.toString('utf8')));
    wake?.();
  });
  const waitText = async (from: number): Promise<ServerMessage> => {
    for (;;) {
      const found = log.slice(from).find((m) => 'type' in m);
      if (found) return found as ServerMessage;
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('no reply within 5 s')), 5000);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  };
  await waitText(0); // hello
  return {
    ws,
    log,
    reply: async (msg) => {
      const from = log.length;
      ws.send(JSON.stringify(msg));
      return waitText(from);
    },
  };
}

describe('preview JPEGs', { timeout: 60_000 }, () => {
  it('the encoder produces baseline JPEGs that ffmpeg decodes close to the source', async () => {
    const frame = sampleFrame();
    const enc = new JpegEncoder(75);
    for (const width of [W, 240, 237]) {
      const scaler = new RgbDownscaler(W, H, width);
      const pixels = width === W ? frame : scaler.scale(frame);
      const jpeg = await enc.encode(pixels, scaler.width, scaler.height);
      assert.deepEqual([...jpeg.subarray(0, 2)], [0xff, 0xd8], 'SOI');
      assert.deepEqual([...jpeg.subarray(-2)], [0xff, 0xd9], 'EOI');
      const { rgb, stderr } = ffmpegDecode(jpeg);
      assert.equal(stderr, '', `ffmpeg decodes ${width}px cleanly`);
      assert.equal(rgb.length, scaler.width * scaler.height * 3, `${scaler.width}x${scaler.height}`);
      const q = psnr(rgb, pixels.subarray(0, rgb.length));
      assert.ok(q > 30, `${width}px: PSNR ${q.toFixed(1)} dB > 30 dB at quality 75`);
      assert.ok(jpeg.length < pixels.length / 8, `${width}px: ${jpeg.length} bytes`);
    }
    // Quality is a real knob: lower quality, smaller file, lower fidelity.
    const low = await new JpegEncoder(20).encode(frame, W, H);
    const high = await new JpegEncoder(95).encode(frame, W, H);
    assert.ok(low.length < high.length);
    assert.ok(psnr(ffmpegDecode(low).rgb, frame) < psnr(ffmpegDecode(high).rgb, frame));
    assert.throws(() => new JpegEncoder(0), /quality 0; expected an integer 1…100/);
    assert.throws(() => enc.encode(frame, W + 1, H), /expected 519480/);
  });

  it('the downscaler averages the source pixels each output pixel covers', () => {
    // 4×2 → 2×1: each output pixel is the mean of a 2×2 block.
    const src = Uint8Array.from([0, 0, 0, 10, 20, 30, 100, 100, 100, 200, 200, 200, 2, 4, 6, 12, 24, 36, 0, 0, 0, 255, 255, 255]);
    const s = new RgbDownscaler(4, 2, 2);
    assert.deepEqual([s.width, s.height], [2, 1]);
    assert.deepEqual([...s.scale(src)], [6, 12, 18, 139, 139, 139]);
    assert.throws(() => new RgbDownscaler(4, 2, 5), /no upscaling/);
  });

  it('preview requests are validated, naming the field', () => {
    const catalog = { has: () => true, ids: () => ['cam1'] };
    const parse = (o: object): unknown => parseControlMessage(Buffer.from(JSON.stringify(o)), false, catalog);
    assert.deepEqual(parse({ type: 'preview', enabled: true }), { type: 'preview', enabled: true, maxFps: 5, width: 240 });
    assert.deepEqual(parse({ type: 'preview', enabled: false, maxFps: 2, width: 100 }), { type: 'preview', enabled: false, maxFps: 2, width: 100 });
    const bad: [object, string][] = [
      [{ type: 'preview' }, 'enabled'],
      [{ type: 'preview', enabled: 'yes' }, 'enabled'],
      [{ type: 'preview', enabled: true, maxFps: 0 }, 'maxFps'],
      [{ type: 'preview', enabled: true, maxFps: 31 }, 'maxFps'],
      [{ type: 'preview', enabled: true, width: 15 }, 'width'],
      [{ type: 'preview', enabled: true, width: 240.5 }, 'width'],
      [{ type: 'preview', enabled: true, quality: 9 }, 'quality'],
    ];
    for (const [msg, field] of bad) {
      const r = parse(msg) as { type: string; code: string; field: string; request: string };
      assert.equal(r.type, 'error', JSON.stringify(msg));
      assert.equal(r.code, 'bad_field');
      assert.equal(r.field, field);
      assert.equal(r.request, 'preview');
    }
  });

  it('sends each asking client a preview right before the mask of the same frame, rate-limited, encoded once', async (t) => {
    const encoded: number[] = [];
    const srv = await startPublishServer({ publisher: { hooks: { onPreviewEncoded: (_s, bytes) => encoded.push(bytes) } } });
    t.after(async () => {
      for (const ws of SOCKETS.splice(0)) ws.terminate();
      await srv.close();
    });
    const frame = sampleFrame();
    const { masks } = loadCamvidMasks(1);
    const mask = masks[0] as Uint8Array;

    const a = await recorder(srv.wsUrl); // previews at 240
    const b = await recorder(srv.wsUrl); // previews at 240: shares a's JPEG
    const c = await recorder(srv.wsUrl); // previews at 120
    const none = await recorder(srv.wsUrl); // never asks
    const off = await recorder(srv.wsUrl); // asks, then turns them off
    // Rates far below the publishing rate, so only the burst of 2 goes through (whatever the CPU speed).
    assert.deepEqual(await a.reply({ type: 'preview', enabled: true, maxFps: 0.02, width: 240 }), { type: 'preview', enabled: true, maxFps: 0.02, width: 240 });
    await b.reply({ type: 'preview', enabled: true, maxFps: 0.02, width: 240 });
    await c.reply({ type: 'preview', enabled: true, maxFps: 0.01, width: 120 });
    await off.reply({ type: 'preview', enabled: true });
    assert.deepEqual(await off.reply({ type: 'preview', enabled: false }), { type: 'preview', enabled: false, maxFps: 5, width: 240 });
    // Wider than the frames: capped (no upscaling).
    const wide = await recorder(srv.wsUrl);
    assert.deepEqual(await wide.reply({ type: 'preview', enabled: true, width: 4000 }), { type: 'preview', enabled: true, maxFps: 5, width: 480 });
    await wide.reply({ type: 'preview', enabled: false });

    const N = 6;
    for (let seq = 0; seq < N; seq++) srv.publisher.publish(maskResult('cam1', seq, mask, W, H), frame);
    srv.publisher.publish(maskResult('cam2', 0, mask, W, H)); // no pixels: no preview for anyone
    const binaries = (log: (BinaryMessage | ServerMessage)[]): BinaryMessage[] => log.filter((m): m is BinaryMessage => 'kind' in m);
    const masksIn = (log: (BinaryMessage | ServerMessage)[]): number => binaries(log).filter((m) => m.kind === 'mask').length;
    for (const r of [a, b, c, none, off]) {
      const deadline = Date.now() + 10_000;
      while (masksIn(r.log) < N + 1 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      assert.equal(masksIn(r.log), N + 1);
    }

    const pairs = (log: (BinaryMessage | ServerMessage)[]): number[] => {
      const bin = binaries(log);
      const seqs: number[] = [];
      bin.forEach((m, i) => {
        if (m.kind !== 'preview') return;
        const next = bin[i + 1];
        assert.ok(next?.kind === 'mask' && next.streamId === m.streamId && next.seq === m.seq, `preview ${m.streamId}#${m.seq} is followed by its mask`);
        seqs.push(m.seq);
      });
      return seqs;
    };
    // 6 frames published at once: the bucket's burst of 2 lets two through, the rest wait for tokens.
    assert.deepEqual(pairs(a.log), [0, 1]);
    assert.deepEqual(pairs(b.log), [0, 1]);
    assert.deepEqual(pairs(c.log), [0, 1]);
    assert.deepEqual(pairs(none.log), []);
    assert.deepEqual(pairs(off.log), []);
    const pa = binaries(a.log).find((m) => m.kind === 'preview');
    const pc = binaries(c.log).find((m) => m.kind === 'preview');
    assert.ok(pa?.kind === 'preview' && pc?.kind === 'preview');
    assert.deepEqual([pa.width, pa.height, pc.width, pc.height], [240, 180, 120, 90]);
    // The preview is the frame: decoded by ffmpeg, close to the downscaled source.
    const ref = new RgbDownscaler(W, H, 240).scale(frame);
    assert.ok(psnr(ffmpegDecode(pa.jpeg).rgb, ref) > 30);
    // One JPEG per frame and width: seqs 0 and 1 at 240 (shared by a and b) and at 120.
    assert.equal(encoded.length, 4);
  });
});
