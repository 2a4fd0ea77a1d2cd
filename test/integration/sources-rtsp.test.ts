import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { FfmpegSource, type FfmpegSourceOptions } from '../../pipeline/sources/index.js';
import type { StreamConfig } from '../../pipeline/core/stream-config.js';
import { startRtspServer, type RtspServer } from '../helpers/rtsp-server.js';
import { pidAlive, recordedSource, type RecordingObserver, streamConfig, waitFor } from '../helpers/source-harness.js';

const W = 160;
const H = 120;

/** Everything a test starts is torn down afterwards, pass or fail. */
const sources: FfmpegSource[] = [];
const servers: RtspServer[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.close()));
  await Promise.all(servers.splice(0).map((s) => s.stop()));
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

async function server(opts: Parameters<typeof startRtspServer>[0] = {}): Promise<RtspServer> {
  const s = await startRtspServer(opts);
  servers.push(s);
  return s;
}

function make(cfg: StreamConfig, over: Partial<FfmpegSourceOptions> = {}): { src: FfmpegSource; obs: RecordingObserver; lines: string[] } {
  const made = recordedSource(cfg, {
    width: W,
    height: H,
    poolSize: 6,
    backoff: { minMs: 200, maxMs: 1000 },
    stallTimeoutMs: 3000,
    killGraceMs: 500,
    ...over,
  });
  sources.push(made.src);
  return made;
}

/** A TCP server that accepts connections and never says a word (a camera that hangs). */
async function silentServer(): Promise<{ port: number; accepted: () => number }> {
  const held: Socket[] = [];
  let accepted = 0;
  const srv: Server = createServer((sock) => {
    accepted++;
    held.push(sock);
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  cleanups.push(async () => {
    for (const s of held) s.destroy();
    await new Promise<void>((r) => srv.close(() => r()));
  });
  const addr = srv.address();
  assert.ok(addr !== null && typeof addr === 'object');
  return { port: addr.port, accepted: () => accepted };
}

describe('FfmpegSource (rtsp)', () => {
  it('streams an RTSP source over tcp: right-size frames, increasing seq and pts', async () => {
    const rtsp = await server();
    const { src, obs } = make(streamConfig('rtsp-tcp', rtsp.url, { rtspTransport: 'tcp' }));
    src.start();
    await waitFor(() => obs.frames.length >= 25, '25 frames over RTSP');
    assert.equal(src.state, 'streaming');
    assert.ok(src.args.includes('-rtsp_transport') && src.args[src.args.indexOf('-rtsp_transport') + 1] === 'tcp');
    for (const f of obs.frames) {
      assert.equal(f.streamId, 'rtsp-tcp');
      assert.equal(f.bytes, W * H * 3);
    }
    const seqs = obs.frames.map((f) => f.seq);
    assert.deepEqual(seqs, [...Array(seqs.length).keys()], JSON.stringify({ seqs, states: obs.states, restarts: obs.restarts, drops: obs.drops }));
    const pts = obs.frames.map((f) => f.ptsMs);
    assert.ok(pts.every((p) => p !== null), 'pts known for every RTSP frame');
    // RTP timestamps of a 10 fps clip: every pts on the 100 ms grid. The decoder's B-frame reordering
    // is not settled for the first few frames (pts like -200,-300,-200 are what ffmpeg reports), so
    // only after those must each frame be exactly 100 ms after the previous one.
    assert.ok(pts.every((p) => p! % 100 === 0), pts.join());
    for (let i = 6; i < pts.length; i++) assert.equal(pts[i]! - pts[i - 1]!, 100, pts.join());
  });

  it('reconnects after the RTSP server dies and comes back on the same port', async () => {
    const first = await server();
    const { src, obs } = make(streamConfig('rtsp-reconnect', first.url));
    src.start();
    const why = (): string => obs.describe();
    await waitFor(() => obs.frames.length >= 10, 'streaming before the outage', 60_000, why);
    const port = first.port;
    await first.stop();
    await waitFor(() => src.state === 'backoff' || src.state === 'connecting', 'source notices the outage', 60_000, why);
    // Let it fail to reconnect at least once while the server is down.
    await waitFor(() => obs.restarts.length >= 2, 'retries while the server is down', 60_000, why);
    const beforeOutageEnd = obs.frames.length;
    const second = await server({ port });
    assert.equal(second.port, port);
    await waitFor(() => obs.frames.length >= beforeOutageEnd + 10, 'frames after the server came back', 60_000, why);
    assert.equal(src.state, 'streaming');
    const names = obs.stateNames();
    const firstBackoff = names.indexOf('backoff');
    assert.ok(firstBackoff > names.indexOf('streaming'), 'streaming, then backoff');
    assert.ok(names.lastIndexOf('streaming') > firstBackoff, 'streaming again after backoff');
    assert.ok(obs.restarts.every((r) => r === 'exited' || r === 'stalled'), obs.restarts.join());
    const seqs = obs.frames.map((f) => f.seq);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1]! + 1, 'seq continues across restarts');
  });

  it('a server that accepts but never answers goes stalled/backoff and retries, without holding up a live source', async () => {
    const silent = await silentServer();
    const rtsp = await server();
    const dead = make(streamConfig('rtsp-silent', `rtsp://127.0.0.1:${silent.port}/never`), {
      stallTimeoutMs: 1500,
      connectTimeoutMs: 2000,
      ioTimeoutMs: 1000,
    });
    const live = make(streamConfig('rtsp-live', rtsp.url));
    // What the dead source was doing each time the live one delivered a frame.
    const deadStateAtLiveFrame: string[] = [];
    const onFrame = live.obs.onFrame.bind(live.obs);
    live.obs.onFrame = (f) => {
      deadStateAtLiveFrame.push(dead.src.state);
      onFrame(f);
    };
    // The dead one first: start() must return at once and not delay the live one.
    dead.src.start();
    assert.equal(dead.src.state, 'connecting');
    live.src.start();
    await waitFor(() => dead.obs.restarts.length >= 2, 'two retries of the silent server', 60_000);
    assert.ok(silent.accepted() >= 2, 'ffmpeg did connect each time');
    const names = dead.obs.stateNames();
    assert.ok(!names.includes('streaming'));
    assert.ok(names.includes('backoff'));
    assert.ok(dead.obs.restarts.every((r) => r === 'exited' || r === 'stalled'));
    // Meanwhile the live stream ran: it delivered frames while the dead one hung in connecting.
    await waitFor(() => live.obs.frames.length >= 10, '10 live frames');
    assert.ok(
      deadStateAtLiveFrame.filter((s) => s === 'connecting').length >= 5,
      `live frames while the dead source was connecting: ${deadStateAtLiveFrame.join()}`,
    );
    const deadPid = dead.src.pid;
    await dead.src.close();
    if (deadPid !== null) assert.ok(!pidAlive(deadPid));
  });

  it('never logs the credentials of an RTSP URL, whether auth succeeds or fails', async () => {
    const password = 'Pa55-w0rd!';
    const rtsp = await server({ user: 'camuser', password });
    const good = make(streamConfig('rtsp-auth-ok', rtsp.urlWithCredentials('camuser', password)));
    const bad = make(streamConfig('rtsp-auth-bad', rtsp.urlWithCredentials('camuser', 'wrong-secret')));
    good.src.start();
    bad.src.start();
    await waitFor(() => good.obs.frames.length >= 5, 'the source with the right password to deliver 5 frames');
    await waitFor(() => bad.obs.restarts.length >= 1, 'the source with the wrong password to restart');
    await Promise.all([good.src.close(), bad.src.close()]);
    const all = [...good.lines, ...bad.lines].join('\n');
    assert.ok(all.length > 0);
    for (const secret of [password, encodeURIComponent(password), 'wrong-secret', 'camuser']) {
      assert.ok(!all.includes(secret), `"${secret}" appears in the logs`);
    }
    // The lines are there, redacted: ffmpeg's own echo of the URL and its 401 error.
    assert.match(all, /rtsp:\/\/\*\*\*:\*\*\*@127\.0\.0\.1/);
    assert.match(bad.lines.join('\n'), /401 Unauthorized/);
  });
});
