import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHttpServer } from '../../daemon/http-server.js';
import { createMetrics } from '../../daemon/metrics.js';
import { TestClient, silentLogger, startPublishServer } from '../helpers/publish-harness.js';

describe('HTTP server', { timeout: 60_000 }, () => {
  it('GET /healthz → 200 {"status":"ok"}', async (t) => {
    const srv = await startPublishServer();
    t.after(() => srv.close());
    const res = await fetch(`${srv.httpUrl}/healthz`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  it('GET /readyz → 503 until the model is loaded and warmed, then 200, with per-stream status', async (t) => {
    const srv = await startPublishServer();
    t.after(() => srv.close());
    const streams = [{ id: 'cam1', state: 'streaming' as const }, { id: 'cam2', state: 'backoff' as const }];

    srv.readiness = { modelLoaded: true, modelWarmed: false, streams };
    let res = await fetch(`${srv.httpUrl}/readyz`);
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { status: 'not_ready', model: { loaded: true, warmed: false }, streams });

    srv.readiness = { modelLoaded: true, modelWarmed: true, streams };
    res = await fetch(`${srv.httpUrl}/readyz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ready', model: { loaded: true, warmed: true }, streams });
  });

  it('GET /readyz → 503 (not a crash) when the readiness callback throws', async (t) => {
    const metrics = createMetrics({ defaultMetrics: false });
    const http = createHttpServer({ metrics, readiness: () => { throw new Error('boom'); }, logger: silentLogger });
    const { port } = await http.listen('127.0.0.1', 0);
    t.after(() => http.close());
    const res = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(res.status, 503);
    assert.equal(((await res.json()) as { status: string }).status, 'not_ready');
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200, 'server still up');
  });

  it('GET /metrics → Prometheus text with its content type', async (t) => {
    const srv = await startPublishServer();
    t.after(() => srv.close());
    const res = await fetch(`${srv.httpUrl}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(await res.text(), /^# TYPE segd_frames_decoded_total counter$/m);
  });

  it('unknown paths → 404 JSON; other methods → 405 with Allow; query strings ignored', async (t) => {
    const srv = await startPublishServer();
    t.after(() => srv.close());
    let res = await fetch(`${srv.httpUrl}/nope`);
    assert.equal(res.status, 404);
    const body = (await res.json()) as { error: string; message: string };
    assert.equal(body.error, 'not_found');
    assert.match(body.message, /\/nope/);
    // /ws without an upgrade is just an unknown page.
    assert.equal((await fetch(`${srv.httpUrl}/ws`)).status, 404);

    res = await fetch(`${srv.httpUrl}/healthz`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'GET, HEAD');
    assert.equal(((await res.json()) as { error: string }).error, 'method_not_allowed');
    assert.equal((await fetch(`${srv.httpUrl}/metrics`, { method: 'DELETE' })).status, 405);

    assert.equal((await fetch(`${srv.httpUrl}/healthz?x=1`)).status, 200);
    const head = await fetch(`${srv.httpUrl}/healthz`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  it('extra GET routes can be added; built-in paths win', async (t) => {
    const metrics = createMetrics({ defaultMetrics: false });
    const routes = new Map([
      ['/viewer', (_req: unknown, res: import('node:http').ServerResponse) => res.end('viewer')],
      ['/healthz', (_req: unknown, res: import('node:http').ServerResponse) => res.end('shadowed')],
    ]);
    const http = createHttpServer({ metrics, readiness: () => ({ modelLoaded: true, modelWarmed: true, streams: [] }), logger: silentLogger, routes });
    const { port } = await http.listen('127.0.0.1', 0);
    t.after(() => http.close());
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/viewer`)).text(), 'viewer');
    assert.deepEqual(await (await fetch(`http://127.0.0.1:${port}/healthz`)).json(), { status: 'ok' });
  });

  it('listen() on a taken port rejects naming host:port', async (t) => {
    const srv = await startPublishServer();
    t.after(() => srv.close());
    const metrics = createMetrics({ defaultMetrics: false });
    const second = createHttpServer({ metrics, readiness: () => ({ modelLoaded: true, modelWarmed: true, streams: [] }), logger: silentLogger });
    await assert.rejects(second.listen('127.0.0.1', srv.port), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${srv.port}: .*EADDRINUSE`));
    await second.close();
  });

  it('close() closes WebSocket clients with 1001, ends keep-alive connections, and is idempotent', async () => {
    const srv = await startPublishServer();
    const c = await TestClient.connect(srv.wsUrl);
    // A keep-alive connection left idle must not hold close() up.
    assert.equal((await fetch(`${srv.httpUrl}/healthz`)).status, 200);
    const p1 = srv.http.close();
    const p2 = srv.http.close();
    assert.equal(p1, p2);
    assert.equal((await c.closed).code, 1001);
    await p1;
    assert.equal(srv.http.server.listening, false);
    await assert.rejects(fetch(`${srv.httpUrl}/healthz`));
  });
});
