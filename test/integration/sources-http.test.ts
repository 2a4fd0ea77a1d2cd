import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FfmpegSource } from '../../pipeline/sources/index.js';
import { FFMPEG_PATH, SAMPLE_CLIP_VAL } from '../helpers/paths.js';
import { memoryLogger, RecordingObserver, streamConfig, waitFor } from '../helpers/source-harness.js';

const W = 96;
const H = 72;
let dir: string;
let server: Server;
let base: string;
const requests: string[] = [];

before(async () => {
  // A VOD HLS rendition of the shared clip (stream copy: no re-encode), served over real HTTP.
  dir = mkdtempSync(join(tmpdir(), 'segd-hls-'));
  const r = spawnSync(
    FFMPEG_PATH,
    ['-nostdin', '-loglevel', 'error', '-i', SAMPLE_CLIP_VAL, '-c', 'copy', '-f', 'hls', '-hls_time', '2', '-hls_list_size', '0', join(dir, 'index.m3u8')],
    { timeout: 30_000 },
  );
  assert.equal(r.status, 0, r.stderr.toString());
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push(req.url ?? '');
    const name = basename(new URL(req.url ?? '/', 'http://x').pathname);
    try {
      const body = readFileSync(join(dir, name));
      res.writeHead(200, { 'content-type': name.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp2t' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  assert.ok(addr !== null && typeof addr === 'object');
  base = `http://127.0.0.1:${addr.port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

describe('FfmpegSource (http / HLS)', () => {
  it('decodes an HLS playlist over HTTP, and restarts when the (VOD) stream ends', async () => {
    const obs = new RecordingObserver();
    const { logger, lines } = memoryLogger('debug');
    const src = new FfmpegSource(streamConfig('hls', `${base}/index.m3u8?token=t0ps3cret`), {
      ffmpegPath: FFMPEG_PATH,
      width: W,
      height: H,
      poolSize: 8,
      logger,
      backoff: { minMs: 100, maxMs: 300 },
      observer: obs,
    });
    try {
      assert.equal(src.parsed.kind, 'http');
      assert.equal(src.parsed.hls, true);
      src.start();
      await waitFor(() => obs.restarts.length >= 1 && obs.frames.length >= 110, 'a full pass and a restart');
    } finally {
      await src.close();
    }
    const firstPass = obs.frames.filter((f) => f.seq < 100);
    assert.equal(firstPass.length, 100, 'every frame of the clip');
    assert.ok(obs.frames.every((f) => f.bytes === W * H * 3));
    assert.deepEqual(obs.restarts.slice(0, 1), ['exited'], 'end of a non-file stream is a restart, not a stop');
    assert.ok(requests.some((u) => u.endsWith('.ts')), 'segments fetched over HTTP');
    assert.ok(!lines.join('\n').includes('t0ps3cret'), 'token never logged');
  });
});
