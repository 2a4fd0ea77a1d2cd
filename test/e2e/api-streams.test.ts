// Runtime control of streams (issue 15) against the daemon process, with a bearer token: every
// /api/ route refuses a missing or wrong token; a stream is added, changed and removed while two
// others publish without a gap in their seqs; its ffmpeg child and metric series go with it and
// clients get the stream-list update; bad input names the field and disturbs nothing; concurrent
// calls on one stream are serialised.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { SAMPLE_CLIP_TRAIN, SAMPLE_CLIP_VAL } from '../helpers/paths.js';
import { cleanEnv, makeTempDir, startDaemonProcess, testConfig, writeConfig, type DaemonProcess } from '../helpers/daemon.js';
import { E2eClient } from '../helpers/e2e-client.js';
import { Recorder, api, ffmpegChildren, waitReady, type ApiReply } from '../helpers/control-api.js';
import type { StreamsMessage } from '../../clients/ts/protocol-client.js';

const TOKEN = 'segd-api-test-token-0123456789';
/** A zone polygon (normalised); tests name classes the model has or has not. */
const DOOR = [
  [0.1, 0.1],
  [0.5, 0.1],
  [0.5, 0.5],
];
/** A stream whose zone names a class the model has (car) and one it has not (bus). */
const UNKNOWN_ZONE_CLASS = { id: 'z', url: SAMPLE_CLIP_VAL, zones: [{ name: 'door', polygon: DOOR, classes: ['car', 'bus'] }] };

describe('e2e: the stream control API', { timeout: 300_000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let daemon: DaemonProcess;
  const clients: E2eClient[] = [];
  const call = (method: string, path: string, body?: unknown): Promise<ApiReply> => api(daemon.httpUrl, method, path, body, TOKEN);
  const connect = async (): Promise<E2eClient> => {
    const c = await E2eClient.connect(`${daemon.wsUrl}?token=${TOKEN}`);
    clients.push(c);
    return c;
  };
  const metricsText = async (): Promise<string> => (await fetch(`${daemon.httpUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  /** Seq gaps of the streams that must have none (x and y are realtime: newest-wins may skip frames). */
  const pacedGaps = (rec: Recorder): Record<string, string[]> => Object.fromEntries([...rec.gaps].filter(([id]) => id === 'p1' || id === 'p2'));
  /** ffmpeg children of the daemon that are still running (a zombie would be a leak too: it is listed). */
  const ffmpegCount = (): number => ffmpegChildren(daemon.child.pid as number).length;

  before(async () => {
    tmp = makeTempDir('segd-e2e-api-streams-');
    // Unpaced files (realtime: false) are paced by the pipeline: none of their frames is dropped,
    // so any gap in their seqs would be the control API's doing.
    const cfg = testConfig([
      { id: 'p1', url: SAMPLE_CLIP_VAL, realtime: false },
      { id: 'p2', url: SAMPLE_CLIP_TRAIN, realtime: false },
    ]);
    daemon = await startDaemonProcess({ args: ['run', '--config', writeConfig(tmp.dir, cfg)], env: cleanEnv({ SEGD_TOKEN: TOKEN }) });
    await waitReady(daemon.httpUrl, TOKEN);
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.terminate()));
    await daemon?.stop();
    tmp?.cleanup();
  });

  it('GET /api/streams/:id/snapshot.jpg (with the token): the next frame with its mask as a JPEG at the model size; an unknown stream 404, another method 405', async () => {
    const r = await fetch(`${daemon.httpUrl}/api/streams/p1/snapshot.jpg`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'image/jpeg');
    const jpeg = Buffer.from(await r.arrayBuffer());
    const meta = await sharp(jpeg).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 480, 360]);
    const unknown = await fetch(`${daemon.httpUrl}/api/streams/nope/snapshot.jpg`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: string }).error, 'unknown_stream');
    const post = await fetch(`${daemon.httpUrl}/api/streams/p1/snapshot.jpg`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(post.status, 405);
  });

  it('every /api/ route refuses a missing or a wrong token with 401, and changes nothing', async () => {
    const routes: [string, string, unknown][] = [
      ['GET', '/api/streams', undefined],
      ['POST', '/api/streams', { id: 'z', url: SAMPLE_CLIP_VAL }],
      ['GET', '/api/streams/p1', undefined],
      ['PUT', '/api/streams/p1', { url: SAMPLE_CLIP_VAL }],
      ['PATCH', '/api/streams/p1', { maxFps: 1 }],
      ['DELETE', '/api/streams/p1', undefined],
      ['GET', '/api/model', undefined],
      ['PUT', '/api/model', { path: '/nonexistent.onnx' }],
      ['POST', '/api/reload', undefined],
      ['GET', '/api/no-such-route', undefined],
      ['GET', '/api/streams/p1/snapshot.jpg', undefined],
    ];
    for (const [method, path, body] of routes) {
      for (const token of [undefined, 'wrong-token-wrong-token-0000']) {
        const r = await api(daemon.httpUrl, method, path, body, token);
        assert.equal(r.status, 401, `${method} ${path} with ${token === undefined ? 'no' : 'a wrong'} token → ${r.status} ${JSON.stringify(r.body)}`);
        assert.equal(r.body['error'], 'unauthorized');
      }
    }
    const list = await call('GET', '/api/streams');
    assert.equal(list.status, 200);
    assert.deepEqual((list.body['streams'] as { id: string }[]).map((s) => s.id), ['p1', 'p2'], 'nothing was added or removed');
    assert.equal((await call('GET', '/api/model')).status, 200);
  });

  it('adds, changes and removes a stream while the others publish without a gap', async () => {
    const watcher = await connect();
    const rec = new Recorder(watcher);
    const explicit = await connect(); // will subscribe to the added stream only
    await watcher.waitUntil(() => watcher.count('p1') >= 2 && watcher.count('p2') >= 2, 'masks of p1 and p2', 60_000);
    assert.equal(ffmpegCount(), 2);

    const added = await call('POST', '/api/streams', { id: 'x', url: SAMPLE_CLIP_VAL, maxFps: 5 });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const settings = (added.body['stream'] as { settings: Record<string, unknown> }).settings;
    assert.deepEqual(settings, { id: 'x', url: SAMPLE_CLIP_VAL, maxFps: 5, loop: true, realtime: true, rtspTransport: 'tcp', expectedFps: 10, queueDepth: 1, zones: [] }, 'defaults applied as for the config file');
    // Every client hears of it; a client can subscribe to it.
    await watcher.waitUntil(() => watcher.texts.some((t) => t.type === 'streams' && (t as StreamsMessage).change?.added?.includes('x') === true), 'the stream-list update (added x)');
    const update = watcher.texts.find((t) => t.type === 'streams' && (t as StreamsMessage).change !== undefined) as StreamsMessage;
    assert.deepEqual(update.streams.map((s) => s.id), ['p1', 'p2', 'x']);
    await explicit.waitUntil(() => explicit.texts.some((t) => t.type === 'streams'), 'the update on the second client');
    const sub = await explicit.request({ type: 'subscribe', streams: ['x'] });
    assert.deepEqual(sub, { type: 'subscription', all: false, streams: ['x'], encoding: 'raw' });
    const p1AtSubscribe = explicit.count('p1'); // masks after the reply follow the new subscription
    await explicit.waitUntil(() => explicit.count('x') >= 2, 'masks of the added stream x', 60_000);
    assert.equal(explicit.count('p1'), p1AtSubscribe, 'the subscription holds x only');
    assert.equal(ffmpegCount(), 3, 'one ffmpeg child more');
    const series = await metricsText();
    assert.match(series, /segd_frames_decoded_total\{stream="x"\} [1-9]/);

    // Change: only x restarts (a new ffmpeg child), and it keeps numbering its frames.
    const pidsBefore = new Set(ffmpegChildren(daemon.child.pid as number).map((c) => c.pid));
    const lastSeqX = explicit.lastSeq.get('x') ?? -1;
    const changed = await call('PATCH', '/api/streams/x', { maxFps: 2 });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal(changed.body['changed'], true);
    assert.equal((changed.body['stream'] as { settings: { maxFps: number } }).settings.maxFps, 2);
    const pidsAfter = ffmpegChildren(daemon.child.pid as number).map((c) => c.pid);
    assert.equal(pidsAfter.length, 3);
    assert.equal(pidsAfter.filter((p) => !pidsBefore.has(p)).length, 1, 'exactly one new ffmpeg child (x), the others untouched');
    const countX = explicit.count('x');
    await explicit.waitUntil(() => explicit.count('x') >= countX + 2, 'masks of x after the change', 60_000);
    assert.ok((explicit.lastSeq.get('x') ?? -1) > lastSeqX, 'seq continues across the change');
    const same = await call('PATCH', '/api/streams/x', { maxFps: 2 });
    assert.equal(same.body['changed'], false, 'the same settings again restart nothing');

    // Remove: its child dies before the reply, its series go, clients hear of it.
    const removed = await call('DELETE', '/api/streams/x');
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.equal(ffmpegCount(), 2, 'the ffmpeg child of x is gone (and reaped)');
    const after = await metricsText();
    assert.doesNotMatch(after, /stream="x"/, 'no metric series of x remains');
    await explicit.waitUntil(() => explicit.texts.some((t) => t.type === 'streams' && (t as StreamsMessage).change?.removed?.includes('x') === true), 'the stream-list update (removed x)');
    const removedAt = explicit.texts.length;
    const xBefore = explicit.count('x');
    const resub = await explicit.request({ type: 'subscribe', streams: ['x'] });
    assert.equal(resub.type, 'error', 'x is no longer a stream');
    assert.equal((resub as { code: string }).code, 'unknown_stream');
    assert.ok(removedAt > 0);

    const p1 = rec.masks('p1');
    const p2 = rec.masks('p2');
    await watcher.waitUntil(() => rec.masks('p1') >= p1 + 3 && rec.masks('p2') >= p2 + 3, 'p1 and p2 keep publishing', 60_000);
    assert.equal(explicit.count('x'), xBefore, 'no mask of x after its removal was announced');
    assert.deepEqual(pacedGaps(rec), {}, 'no seq gap in p1 or p2');
    assert.deepEqual(((await call('GET', '/api/streams')).body['streams'] as { id: string }[]).map((s) => s.id), ['p1', 'p2']);
  });

  it('bad input gets a coded error naming the field, and disturbs nothing', async () => {
    const c = await connect();
    const rec = new Recorder(c);
    await c.waitUntil(() => c.count('p1') >= 1, 'masks of p1', 60_000);

    const invalid = await call('POST', '/api/streams', { id: 'bad id', url: 'gopher://h/x', maxFps: -1, colour: 'red' });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body['error'], 'invalid_stream');
    const problems = invalid.body['problems'] as string[];
    // The config file's own wording (core/schema-errors.ts): one line per violation, naming the field.
    assert.ok(problems.some((p) => p.startsWith('colour: unknown key')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('id: expected a string matching')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('maxFps: expected a number >= 0.1')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('url: ')), problems.join('\n'));
    assert.equal(typeof invalid.body['field'], 'string');

    const cases: [string, string, unknown, number, string, string | null][] = [
      ['POST', '/api/streams', 'not json', 400, 'invalid_json', null],
      ['POST', '/api/streams', { id: 'p1', url: SAMPLE_CLIP_VAL }, 409, 'stream_exists', 'id'],
      ['POST', '/api/streams', { id: 'nofile', url: '/nonexistent/clip.mp4' }, 400, 'invalid_stream', 'url'],
      ['PUT', '/api/streams/p1', { id: 'p2', url: SAMPLE_CLIP_VAL }, 400, 'invalid_request', 'id'],
      ['PATCH', '/api/streams/p1', { queueDepth: 99 }, 400, 'invalid_stream', 'queueDepth'],
      // Zones are checked against the serving model's classes: refused, not run without zones.
      ['POST', '/api/streams', UNKNOWN_ZONE_CLASS, 400, 'invalid_stream', 'zones'],
      ['PATCH', '/api/streams/p1', { zones: [{ name: 'door', polygon: DOOR, classes: ['tram'] }] }, 400, 'invalid_stream', 'zones'],
      ['DELETE', '/api/streams/nope', undefined, 404, 'unknown_stream', 'id'],
      ['GET', '/api/streams/bad%20id', undefined, 400, 'invalid_request', 'id'],
      ['PUT', '/api/model', { path: 42 }, 400, 'invalid_request', 'path'],
      ['POST', '/api/model', undefined, 405, 'method_not_allowed', null],
      ['GET', '/api/nothing', undefined, 404, 'not_found', null],
    ];
    for (const [method, path, body, status, code, field] of cases) {
      const r = await call(method, path, body);
      assert.equal(r.status, status, `${method} ${path} → ${JSON.stringify(r.body)}`);
      assert.equal(r.body['error'], code, `${method} ${path}`);
      assert.equal(r.body['field'], field, `${method} ${path}`);
      assert.ok(String(r.body['message']).length > 0 && typeof r.body['expected'] === 'string');
    }
    const zoneError = await call('POST', '/api/streams', UNKNOWN_ZONE_CLASS);
    assert.match(String(zoneError.body['message']), /zone "door" \(zones\[0\]\) classes\[1\]: unknown class "bus"; expected one of the model's classes: sky, building/);
    const big = await call('POST', '/api/streams', { id: 'big', url: 'x'.repeat(100 * 1024) });
    assert.equal(big.status, 413);
    assert.equal(big.body['error'], 'body_too_large');

    const p1 = rec.masks('p1');
    await c.waitUntil(() => rec.masks('p1') >= p1 + 3, 'p1 keeps publishing', 60_000);
    assert.deepEqual(pacedGaps(rec), {}, 'no gap');
    assert.equal(ffmpegCount(), 2);
    assert.deepEqual(((await call('GET', '/api/streams')).body['streams'] as { id: string }[]).map((s) => s.id), ['p1', 'p2']);
  });

  it('concurrent calls on one stream are serialised', async () => {
    const adds = await Promise.all([1, 2, 3, 4].map(() => call('POST', '/api/streams', { id: 'y', url: SAMPLE_CLIP_TRAIN })));
    assert.deepEqual(adds.map((r) => r.status).sort(), [201, 409, 409, 409], JSON.stringify(adds.map((r) => r.body)));
    assert.equal(ffmpegCount(), 3, 'one ffmpeg child for y');

    const fps = [1, 2, 3, 4, 5];
    const patches = await Promise.all(fps.map((maxFps) => call('PATCH', '/api/streams/y', { maxFps })));
    assert.deepEqual(patches.map((r) => r.status), [200, 200, 200, 200, 200]);
    assert.equal(patches.filter((r) => r.body['changed'] === true).length, 5, 'each applied on the one before it');
    const final = ((await call('GET', '/api/streams/y')).body['stream'] as { settings: { maxFps: number } }).settings.maxFps;
    assert.ok(fps.includes(final));
    assert.equal(ffmpegCount(), 3, 'still one ffmpeg child for y');

    const mixed = await Promise.all([call('DELETE', '/api/streams/y'), call('PATCH', '/api/streams/y', { maxFps: 7 }), call('DELETE', '/api/streams/y')]);
    assert.equal(mixed.filter((r) => r.status === 200 && r.body['removed'] === 'y').length, 1, JSON.stringify(mixed.map((r) => r.body)));
    assert.equal(ffmpegCount(), 2, 'no ffmpeg child of y left');
    const afterAll = await metricsText();
    assert.doesNotMatch(afterAll, /stream="y"/);

    // The last stream cannot go: the config needs one.
    assert.equal((await call('DELETE', '/api/streams/p2')).status, 200);
    const last = await call('DELETE', '/api/streams/p1');
    assert.equal(last.status, 409);
    assert.equal(last.body['error'], 'last_stream');
    assert.equal(ffmpegCount(), 1);
  });
});
