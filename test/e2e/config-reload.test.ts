// Config reload (issue 15) against the daemon process: SIGHUP with an invalid file changes
// nothing and logs one error line per violation; a valid file restarts only the streams whose
// settings changed, starts new ones and stops those no longer listed; with api.persist, changes
// made through the API are written back to the file atomically, its other keys and comments kept.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
import { SAMPLE_CLIP_TRAIN, SAMPLE_CLIP_VAL } from '../helpers/paths.js';
import { makeTempDir, startReadyDaemon, testConfig, writeConfig, type DaemonProcess, type LogRecord } from '../helpers/daemon.js';
import { E2eClient } from '../helpers/e2e-client.js';
import { Recorder, api, ffmpegChildren } from '../helpers/control-api.js';

const COMMENT = '# kept across API writes (api.persist edits the file, it does not regenerate it)';

describe('e2e: config reload (SIGHUP) and api.persist', { timeout: 300_000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let daemon: DaemonProcess;
  let client: E2eClient;
  let rec: Recorder;
  let configPath: string;
  const base = (streams: Record<string, unknown>[]): Record<string, unknown> => testConfig(streams as { id: string; url: string }[], { api: { persist: true } });
  const p1 = { id: 'p1', url: SAMPLE_CLIP_VAL, realtime: false };
  const p2 = { id: 'p2', url: SAMPLE_CLIP_TRAIN, realtime: false };
  const ids = async (): Promise<string[]> => ((await api(daemon.httpUrl, 'GET', '/api/streams')).body['streams'] as { id: string }[]).map((s) => s.id);
  /** The daemon's ffmpeg children, sorted. */
  const childPids = (): number[] => ffmpegChildren(daemon.child.pid as number).map((c) => c.pid).sort();
  const logsAfter = (from: number, pred: (r: LogRecord) => boolean): LogRecord[] => daemon.logs.slice(from).filter(pred);
  /** The first log line from index `from` on that satisfies `pred`. */
  const logFrom = (from: number, pred: (r: LogRecord) => boolean, what: string): Promise<LogRecord> =>
    daemon.waitForLog((r) => pred(r) && daemon.logs.indexOf(r) >= from, what, 60_000);

  before(async () => {
    tmp = makeTempDir('segd-e2e-reload-');
    daemon = await startReadyDaemon(tmp.dir, base([p1, p2]));
    configPath = writeConfig(tmp.dir, `${COMMENT}\n${stringify(base([p1, p2]))}`);
    client = await E2eClient.connect(daemon.wsUrl);
    rec = new Recorder(client);
    await client.waitUntil(() => client.count('p1') >= 2 && client.count('p2') >= 2, 'masks of p1 and p2', 60_000);
  });
  after(async () => {
    await client?.terminate();
    await daemon?.stop();
    tmp?.cleanup();
  });

  it('SIGHUP with an invalid file changes nothing and logs one error line per violation', async () => {
    const pids = childPids();
    const from = daemon.logs.length;
    writeConfig(tmp.dir, { ...base([p1, { ...p2, maxFps: -1 }]), streams: [p1, { ...p2, maxFps: -1, colour: 'red' }], batching: { maxBatch: 0 } });
    daemon.child.kill('SIGHUP');
    await logFrom(from, (r) => r.msg === 'config reload refused: nothing changed', 'the refusal');
    const errors = logsAfter(from, (r) => r.level === 'error' && String(r.msg).startsWith('config reload: '));
    const lines = errors.map((r) => String(r.msg).slice('config reload: '.length)).sort();
    assert.deepEqual(lines, [
      'batching.maxBatch: expected a number >= 1, got 0',
      'streams[1].colour: unknown key (expected one of: id, url, loop, realtime, rtspTransport, expectedFps, maxFps, queueDepth, zones)',
      'streams[1].maxFps: expected a number >= 0.1, got -1',
    ]);
    assert.deepEqual(await ids(), ['p1', 'p2']);
    assert.deepEqual(childPids(), pids, 'no ffmpeg child was restarted');
    const n = rec.masks('p1');
    await client.waitUntil(() => rec.masks('p1') >= n + 3, 'p1 keeps publishing', 60_000);
    assert.deepEqual(Object.fromEntries(rec.gaps), {}, 'no gap');
  });

  it('SIGHUP with a valid file restarts only the changed stream, adds and removes', async () => {
    const before = childPids();
    const from = daemon.logs.length;
    // p1 as it was; p2 with a new rate; p3 new. Then p3 is removed by the next reload.
    writeFileSync(configPath, `${COMMENT}\n${stringify(base([p1, { ...p2, maxFps: 4 }, { id: 'p3', url: SAMPLE_CLIP_VAL }]))}`);
    daemon.child.kill('SIGHUP');
    const done = await logFrom(from, (r) => r.msg === 'config reloaded', 'the reload');
    assert.deepEqual(done['added'], ['p3']);
    assert.deepEqual(done['changed'], ['p2']);
    assert.deepEqual(done['removed'], []);
    assert.deepEqual(await ids(), ['p1', 'p2', 'p3']);
    const after = childPids();
    assert.equal(after.length, 3);
    assert.equal(after.filter((pid) => before.includes(pid)).length, 1, 'one child of before survives: p1 was not restarted');
    assert.equal(logsAfter(from, (r) => r.msg === 'stream changed').length, 1);

    const p1Before = rec.masks('p1');
    const p2Before = rec.masks('p2');
    await client.waitUntil(() => rec.masks('p1') >= p1Before + 3 && rec.masks('p2') >= p2Before + 2 && client.count('p3') >= 1, 'every stream publishes', 60_000);
    assert.equal(rec.gaps.get('p1'), undefined, 'p1 was not touched: no gap');

    writeFileSync(configPath, `${COMMENT}\n${stringify(base([p1, { ...p2, maxFps: 4 }]))}`);
    const second = daemon.logs.length;
    daemon.child.kill('SIGHUP');
    const again = await logFrom(second, (r) => r.msg === 'config reloaded', 'the second reload');
    assert.deepEqual(again['removed'], ['p3']);
    assert.deepEqual(again['changed'], []);
    assert.deepEqual(await ids(), ['p1', 'p2']);
    assert.equal(childPids().length, 2);
  });

  it('api.persist writes API changes back to the file atomically, keeping its other keys and comments', async () => {
    const added = await api(daemon.httpUrl, 'POST', '/api/streams', { id: 'p4', url: SAMPLE_CLIP_TRAIN, maxFps: 3 });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body['persisted'], true);
    let text = readFileSync(configPath, 'utf8');
    assert.ok(text.startsWith(COMMENT), 'the comment is kept');
    let file = parse(text) as { streams: { id: string; maxFps: number | null }[]; batching: unknown; api: unknown };
    assert.deepEqual(file.streams.map((s) => s.id), ['p1', 'p2', 'p4']);
    assert.equal(file.streams[2]?.maxFps, 3);
    assert.deepEqual(file.batching, (base([]) as { batching: unknown }).batching, 'other sections untouched');
    assert.deepEqual(readdirSync(tmp.dir).filter((n) => n.includes('.tmp')), [], 'no temp file left behind');

    const removed = await api(daemon.httpUrl, 'DELETE', '/api/streams/p4');
    assert.equal(removed.body['persisted'], true);
    text = readFileSync(configPath, 'utf8');
    file = parse(text) as typeof file;
    assert.deepEqual(file.streams.map((s) => s.id), ['p1', 'p2']);

    // The file now says what runs: a reload changes nothing.
    const from = daemon.logs.length;
    daemon.child.kill('SIGHUP');
    const done = await logFrom(from, (r) => r.msg === 'config reloaded', 'a reload of the persisted file');
    assert.deepEqual([done['added'], done['changed'], done['removed']], [[], [], []]);
  });
});
