// Hostile clients against the daemon process (issue 28), run as an attacker would on the same
// host against the default config (no token): deeply nested WebSocket messages and API bodies
// are answered with an error and stop nothing; another client keeps receiving masks. Local files
// outside the allowed directories are not streams; a web page on another origin can neither call
// the API nor open /ws; a card on a device or lying about the classes is refused and leaves the
// swap free for the next one.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { api } from '../helpers/control-api.js';
import { MODEL_PATH, makeTempDir, startReadyDaemon, testConfig, type DaemonProcess } from '../helpers/daemon.js';
import { E2eClient } from '../helpers/e2e-client.js';
import { SAMPLE_CLIP_VAL } from '../helpers/paths.js';

const nest = (depth: number, inner = ''): string => '['.repeat(depth) + inner + ']'.repeat(depth);

/** Resolves with the HTTP status of a WebSocket upgrade: 101 when it opened. */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('error', (err) => reject(err));
  });
}

/** A request with any Host header (fetch would not let us set it). */
function rawHttp(base: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method, path, headers: { ...headers, ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A raw request (fetch would add its own Origin/Content-Type rules): status and JSON body. */
async function raw(url: string, method: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

describe('e2e: hostile clients', { timeout: 300_000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let daemon: DaemonProcess;
  const clients: E2eClient[] = [];
  const connect = async (): Promise<E2eClient> => {
    const c = await E2eClient.connect(daemon.wsUrl);
    clients.push(c);
    return c;
  };
  /** The watcher receives masks of `sample` published after this call. */
  const stillPublishing = async (watcher: E2eClient, what: string): Promise<void> => {
    const before = watcher.count('sample');
    await watcher.waitUntil(() => watcher.count('sample') >= before + 2, `${what}: masks keep coming`, 60_000);
    assert.equal(daemon.child.exitCode, null, `${what}: the daemon runs`);
  };

  before(async () => {
    tmp = makeTempDir('segd-e2e-hostile-');
    daemon = await startReadyDaemon(tmp.dir, testConfig([{ id: 'sample', url: SAMPLE_CLIP_VAL }]));
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.terminate()));
    await daemon?.stop();
    tmp?.cleanup();
  });

  it('F1: a 10 KB `[[[…]]]` and a nested subscribe get bad_json; the daemon keeps publishing to another client', async () => {
    const watcher = await connect();
    const attacker = await connect();
    for (const attack of [nest(5000), `{"type":"subscribe","streams":${nest(5000, '"sample"')}}`]) {
      const reply = await attacker.request(attack);
      assert.equal(reply.type, 'error');
      assert.equal(reply.type === 'error' ? reply.code : '', 'bad_json');
      await stillPublishing(watcher, attack.slice(0, 20));
    }
    // A fresh client still gets its hello and masks.
    await stillPublishing(await connect(), 'a new client');
  });

  it('F8: a 60 KB nested body to PATCH /api/streams/:id is 400 invalid_json, not 500', async () => {
    const watcher = await connect();
    const body = `{"maxFps":${nest(30_000)}}`;
    assert.ok(body.length > 60_000 && body.length < 64 * 1024);
    for (const [method, path] of [
      ['PATCH', '/api/streams/sample'],
      ['PUT', '/api/streams/sample'],
      ['POST', '/api/streams'],
      ['PUT', '/api/model'],
    ] as const) {
      const r = await api(daemon.httpUrl, method, path, body);
      assert.equal(r.status, 400, `${method} ${path}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body['error'], 'invalid_json');
      assert.match(String(r.body['message']), /nested deeper than/);
    }
    assert.equal(daemon.logs.filter((l) => l.level === 'error').length, 0, 'no error-level log line');
    await stillPublishing(watcher, 'after the nested bodies');
  });

  it('F2: a local file outside the allowed directories is not a stream (400), existing or not; nothing starts', async () => {
    const priv = join(tmp.dir, '..', `${tmp.dir.split('/').pop() ?? 'x'}-private`);
    mkdirSync(priv, { recursive: true });
    writeFileSync(join(priv, 'secret.txt'), 'db_password=hunter2\n');
    try {
      for (const url of [join(priv, 'secret.txt'), join(priv, 'nope.txt'), '/etc/passwd', '/proc/self/environ', '/dev/zero']) {
        const r = await api(daemon.httpUrl, 'POST', '/api/streams', { id: 'leak', url });
        assert.equal(r.status, 400, `${url}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body['error'], 'invalid_stream');
        assert.equal(r.body['field'], 'url');
        assert.match(String(r.body['message']), /expected a video file under one of the allowed directories/);
      }
      const list = await api(daemon.httpUrl, 'GET', '/api/streams');
      assert.deepEqual((list.body['streams'] as { id: string }[]).map((x) => x.id), ['sample']);
    } finally {
      execFileSync('rm', ['-rf', priv]);
    }
  });

  it('F2: a cross-site or DNS-rebound API call or WebSocket upgrade is refused with 403 and logged; same-origin and Origin-less ones go on', async () => {
    const url = `${daemon.httpUrl}/api/streams`;
    const host = new URL(daemon.httpUrl).host;
    const evil = { origin: 'http://evil.example', 'content-type': 'text/plain' };
    const body = JSON.stringify({ id: 'csrf', url: 'rtsp://10.0.0.9/s' });
    const cross = await raw(url, 'POST', evil, body);
    assert.equal(cross.status, 403, JSON.stringify(cross.body));
    assert.equal(cross.body['error'], 'cross_origin');
    assert.equal((await raw(url, 'POST', { ...evil, 'content-type': 'application/json' }, body)).status, 403);
    assert.equal((await raw(`${daemon.httpUrl}/api/model`, 'GET', { origin: 'null' })).status, 403);
    // Same origin (the viewer page) and no Origin at all (curl, clients) are not cross-site.
    const same = await raw(url, 'GET', { origin: `http://${host}` });
    assert.equal(same.status, 200);
    // A write must be JSON: text/plain (what a cross-site form or simple fetch sends) is 415.
    const plain = await raw(url, 'POST', { 'content-type': 'text/plain' }, body);
    assert.equal(plain.status, 415, JSON.stringify(plain.body));
    assert.equal(plain.body['error'], 'unsupported_media_type');
    await daemon.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('cross-site request refused'), 'a log line for the refusal');
    assert.deepEqual(((await api(daemon.httpUrl, 'GET', '/api/streams')).body['streams'] as { id: string }[]).map((x) => x.id), ['sample'], 'nothing added');

    // DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 is same-origin with
    // the daemon (Origin and Host agree), and a same-origin GET carries no Origin at all.
    const rebound = { host: `evil.example:${new URL(daemon.httpUrl).port}` };
    assert.equal((await rawHttp(daemon.httpUrl, 'GET', '/api/streams', rebound)).status, 403);
    assert.equal((await rawHttp(daemon.httpUrl, 'POST', '/api/streams', { ...rebound, origin: `http://${rebound.host}`, 'content-type': 'application/json' }, body)).status, 403);
    assert.equal(await upgradeStatus(daemon.wsUrl, { ...rebound, origin: `http://${rebound.host}` }), 403);
    assert.equal((await rawHttp(daemon.httpUrl, 'GET', '/api/streams', { host: `localhost:${new URL(daemon.httpUrl).port}` })).status, 200);
    assert.equal(await upgradeStatus(daemon.wsUrl, { origin: 'http://evil.example' }), 403);
    assert.equal(await upgradeStatus(daemon.wsUrl, { origin: `http://${host}` }), 101);
    assert.equal(await upgradeStatus(daemon.wsUrl), 101);
  });

  it('F4/F3: a card on a device or a FIFO, or listing too few classes, is 422 at once; the next swap is not busy', async () => {
    const fifo = join(tmp.dir, 'card.fifo');
    execFileSync('mkfifo', [fifo]);
    const card = JSON.parse(readFileSync(MODEL_PATH.replace(/\.onnx$/, '.json'), 'utf8')) as { classes: unknown[] };
    const three = join(tmp.dir, 'three.json');
    writeFileSync(three, JSON.stringify({ ...card, classes: card.classes.slice(0, 3) }));
    for (const [cardPath, why] of [
      ['/dev/ptmx', /a device, expected a regular file/],
      ['/dev/zero', /a device, expected a regular file/],
      [fifo, /a FIFO, expected a regular file/],
      ['/etc/passwd', /is not a JSON model card/],
      [three, /lists 3 classes/],
    ] as const) {
      const r = await api(daemon.httpUrl, 'PUT', '/api/model', { path: MODEL_PATH, card: cardPath });
      assert.equal(r.status, 422, `${cardPath}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body['error'], 'model_rejected');
      assert.match(String(r.body['message']), why);
      assert.ok(!String(r.body['message']).includes('root:'), 'the file is not quoted');
    }
    const model = await api(daemon.httpUrl, 'GET', '/api/model');
    assert.equal((model.body['model'] as Record<string, unknown>)['classes'], 11, 'the serving model is unchanged');
    // The swap lock was released each time: a good swap goes through (not 429 busy).
    const good = await api(daemon.httpUrl, 'PUT', '/api/model', { path: MODEL_PATH, card: null });
    assert.equal(good.status, 200, JSON.stringify(good.body));
  });

  it('F8: a null body names null', async () => {
    const r = await api(daemon.httpUrl, 'PATCH', '/api/streams/sample', 'null');
    assert.equal(r.status, 400);
    assert.match(String(r.body['message']), /expected a JSON object, got null/);
  });
});
