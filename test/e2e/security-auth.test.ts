// The optional bearer token: every HTTP route (built-in, extra and unknown paths) and the WebSocket
// upgrade answer 401 without it, /healthz stays open for probes; header or ?token= both work; every
// refusal is counted. End to end: the daemon with SEGD_TOKEN, a stream URL with credentials that
// appear in no log line, metric or stream list, and the token itself never logged.
import assert from 'node:assert/strict';
import { describe, it, before, after } from 'node:test';
import { startSilentServer, type SilentServer } from '../helpers/silent-server.js';
import { WebSocket } from 'ws';
import { createRequestAuth, isLoopbackAddress } from '../../daemon/auth.js';
import { createHttpServer, type SegdHttpServer } from '../../daemon/http-server.js';
import { createMetrics, type SegdMetrics } from '../../daemon/metrics.js';
import { WsPublisher } from '../../pipeline/publish/ws-publisher.js';
import { redactUrl } from '../../pipeline/core/redact.js';
import { cleanEnv, makeTempDir, runCli, startDaemonProcess, testConfig, writeConfig, type DaemonProcess } from '../helpers/daemon.js';
import { E2eClient, metricValue } from '../helpers/e2e-client.js';
import { SAMPLE_CLIP_VAL } from '../helpers/paths.js';
import { TEST_MODEL_CARD, silentLogger, streamInfo } from '../helpers/publish-harness.js';

const TOKEN = 'segd-test-token-0123456789';

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

describe('bearer token on the HTTP server (in process)', { timeout: 60000 }, () => {
  let metrics: SegdMetrics;
  let http: SegdHttpServer;
  let base: string;

  before(async () => {
    metrics = createMetrics({ streams: ['cam1'], defaultMetrics: false });
    const publisher = new WsPublisher({ modelId: 'test-model', modelCard: TEST_MODEL_CARD, streams: () => [streamInfo('cam1')], logger: silentLogger, pingIntervalMs: 0 });
    http = createHttpServer({
      metrics,
      readiness: () => ({ modelLoaded: true, modelWarmed: true, streams: [] }),
      publisher,
      logger: silentLogger,
      routes: new Map([['/viewer', (_req, res) => res.end('viewer')]]),
      auth: createRequestAuth(TOKEN),
      onUnauthorized: () => metrics.refused('unauthorized'),
    });
    const addr = await http.listen('127.0.0.1', 0);
    base = `127.0.0.1:${addr.port}`;
  });
  after(() => http.close());

  it('without a token: 401 with a JSON error naming what is expected, on every path but /healthz', async () => {
    assert.equal((await fetch(`http://${base}/healthz`)).status, 200);
    for (const path of ['/readyz', '/metrics', '/viewer', '/no-such-path', '/healthz/../metrics']) {
      const res = await fetch(`http://${base}${path}`);
      assert.equal(res.status, 401, path);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="segd"');
      const body = (await res.json()) as { error: string; message: string };
      assert.equal(body.error, 'unauthorized');
      assert.match(body.message, /Authorization: Bearer <token>.*\?token=<token>/);
    }
    const post = await fetch(`http://${base}/metrics`, { method: 'POST' });
    assert.equal(post.status, 401, 'auth comes before the method check');
  });

  it('wrong, malformed, empty, very long tokens: 401; the right one by header or query: 200', async () => {
    for (const headers of [{ authorization: 'Bearer wrong-token-wrong-token' }, { authorization: `Basic ${TOKEN}` }, { authorization: 'Bearer ' }, { authorization: `Bearer ${'x'.repeat(10000)}` }]) {
      const res = await fetch(`http://${base}/metrics`, { headers });
      assert.equal(res.status, 401, headers.authorization.slice(0, 20));
    }
    assert.equal((await fetch(`http://${base}/metrics?token=${TOKEN}x`)).status, 401);
    assert.equal((await fetch(`http://${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
    assert.equal((await fetch(`http://${base}/metrics`, { headers: { authorization: `bearer ${TOKEN}` } })).status, 200);
    assert.equal((await fetch(`http://${base}/viewer?token=${encodeURIComponent(TOKEN)}`)).status, 200);
    assert.equal((await fetch(`http://${base}/no-such-path?token=${TOKEN}`)).status, 404, 'then routing as usual');
  });

  it('the WebSocket upgrade needs the token too', async () => {
    assert.equal(await upgradeStatus(`ws://${base}/ws`), 401);
    assert.equal(await upgradeStatus(`ws://${base}/ws?token=nope-nope-nope-nope`), 401);
    assert.equal(await upgradeStatus(`ws://${base}/ws?token=${TOKEN}`), 101);
    assert.equal(await upgradeStatus(`ws://${base}/ws`, { authorization: `Bearer ${TOKEN}` }), 101);
  });

  it('every refusal is counted', async () => {
    const before = metricValue(await metrics.render(), 'segd_requests_refused_total', { reason: 'unauthorized' }) ?? 0;
    await fetch(`http://${base}/readyz`);
    await upgradeStatus(`ws://${base}/ws`);
    assert.equal(metricValue(await metrics.render(), 'segd_requests_refused_total', { reason: 'unauthorized' }), before + 2);
  });

  it('credentials are redacted even from a mistyped URL (found by the config fuzzer)', () => {
    assert.equal(redactUrl('rtp:/user:pw@10.0.0.5:554/s1'), 'rtp:/***:***@10.0.0.5:554/s1');
    assert.equal(redactUrl('id "cam2 rtsp:/u:secret@h/x"'), 'id "cam2 rtsp:/***:***@h/x"');
    assert.equal(redactUrl('git@github.com:a/b'), 'git@github.com:a/b', 'no password, nothing to hide');
  });

  it('loopback detection for the "bound wider without a token" warning', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) assert.equal(isLoopbackAddress(a), true, a);
    for (const a of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.2', '::ffff:10.0.0.1', 'fe80::1']) assert.equal(isLoopbackAddress(a), false, a);
  });
});

describe('e2e: daemon with SEGD_TOKEN and a credentialed stream URL', { timeout: 120000 }, () => {
  const PASSWORD = 'Cam-Secret-7781';
  let tmp: ReturnType<typeof makeTempDir>;
  let silent: SilentServer | null = null;
  let daemon: DaemonProcess | null = null;
  let client: E2eClient | null = null;
  let configPath: string;

  before(async () => {
    tmp = makeTempDir('segd-security-');
    silent = await startSilentServer();
    const port = silent.port;
    configPath = writeConfig(
      tmp.dir,
      testConfig([
        { id: 'val', url: SAMPLE_CLIP_VAL },
        { id: 'door', url: `rtsp://admin:${PASSWORD}@127.0.0.1:${port}/s1?token=${PASSWORD}` },
      ]),
    );
    daemon = await startDaemonProcess({ args: ['run', '--config', configPath], env: cleanEnv({ SEGD_TOKEN: TOKEN }) });
  });
  after(async () => {
    await client?.terminate();
    await daemon?.stop();
    await silent?.close();
    tmp.cleanup();
  });

  it('serves only with the token; the stream credentials and the token never leave the daemon', async () => {
    const d = daemon as DaemonProcess;
    assert.equal((await fetch(`${d.httpUrl}/healthz`)).status, 200);
    assert.equal((await fetch(`${d.httpUrl}/readyz`)).status, 401);
    assert.equal((await fetch(`${d.httpUrl}/metrics`)).status, 401);
    assert.equal(await upgradeStatus(d.wsUrl), 401);
    // Wait for ready with the token, and for the credentialed stream to have tried (and logged).
    const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
    for (let i = 0; i < 300 && (await fetch(`${d.httpUrl}/readyz`, auth)).status !== 200; i++) await new Promise((r) => setTimeout(r, 200));
    await d.waitForLog((r) => r['stream'] === 'door' && r.msg === 'source starting', 'the door stream starting');

    client = await E2eClient.connect(`${d.wsUrl}?token=${TOKEN}`);
    const reply = await client.request({ type: 'list_streams' });
    const text = JSON.stringify(reply);
    assert.ok(text.includes('127.0.0.1') && !text.includes(PASSWORD), text);

    const scrape = await (await fetch(`${d.httpUrl}/metrics`, auth)).text();
    assert.ok(scrape.includes('stream="door"') && !scrape.includes(PASSWORD));
    assert.ok(!d.logs.some((l) => l.level === 'warn' && String(l.msg).includes('without a token')), 'bound to loopback: no warning');
    const everything = d.logs.map((l) => JSON.stringify(l)).join('\n') + d.stderr();
    assert.ok(!everything.includes(PASSWORD), 'stream credentials never logged');
    assert.ok(!everything.includes(TOKEN), 'the bearer token never logged');

    const check = await runCli(['check-config', configPath], { env: cleanEnv({ SEGD_TOKEN: TOKEN }) });
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /bearer token required/);
    assert.ok(!(check.stdout + check.stderr).includes(PASSWORD) && !(check.stdout + check.stderr).includes(TOKEN));
  });

  it('the viewer page and its files need the token too, and the page carries it on to them', async () => {
    const d = daemon as DaemonProcess;
    for (const path of ['/', '/index.html', '/viewer.js', '/viewer.css', '/protocol-client.js']) {
      assert.equal((await fetch(`${d.httpUrl}${path}`)).status, 401, `${path} without the token`);
      assert.equal((await fetch(`${d.httpUrl}${path}?token=wrong-token-0123456789`)).status, 401, `${path} with a wrong token`);
      assert.equal((await fetch(`${d.httpUrl}${path}?token=${TOKEN}`)).status, 200, `${path} with the token`);
    }
    const html = await (await fetch(`${d.httpUrl}/?token=${TOKEN}`)).text();
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
    assert.ok(refs.length >= 2, html);
    for (const ref of refs) assert.match(ref, new RegExp(`[?&]token=${TOKEN}(&|$)`), `page reference ${ref} carries the token`);
  });
});
