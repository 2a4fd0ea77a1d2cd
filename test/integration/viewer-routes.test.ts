/**
 * The viewer's static routes on the real HTTP server: each file with its content type and a
 * no-external-requests CSP, the token carried into the page's file URLs (and escaped), and no path
 * outside the fixed routes reaching a file — `..`, encoded `%2e%2e`, absolute and doubled slashes.
 * Requests go over a raw socket so nothing normalises the paths on the way.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHttpServer, type SegdHttpServer } from '../../daemon/http-server.js';
import { createMetrics } from '../../daemon/metrics.js';
import { VIEWER_DIR, viewerRoutes } from '../../daemon/viewer-routes.js';
import { silentLogger } from '../helpers/publish-harness.js';
import { REPO_ROOT } from '../helpers/paths.js';

interface RawResponse {
  readonly status: number;
  readonly headers: Map<string, string>;
  readonly body: string;
}

/** Sends `METHOD path HTTP/1.1` byte for byte and reads the whole response (Connection: close). */
function rawRequest(port: number, path: string, method = 'GET'): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', reject);
    sock.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const lines = text.slice(0, split).split('\r\n');
      const headers = new Map<string, string>();
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
      }
      resolve({ status: Number(lines[0]?.split(' ')[1]), headers, body: text.slice(split + 4) });
    });
    sock.write(`${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  });
}

describe('viewer routes', { timeout: 60_000 }, () => {
  let http: SegdHttpServer;
  let port: number;
  before(async () => {
    const metrics = createMetrics({ streams: ['cam1'], maxBatch: 1, defaultMetrics: false });
    http = createHttpServer({
      metrics,
      readiness: () => ({ modelLoaded: true, modelWarmed: true, streams: [] }),
      logger: silentLogger,
      routes: viewerRoutes(silentLogger),
    });
    port = (await http.listen('127.0.0.1', 0)).port;
  });
  after(() => http.close());

  it('serves the page, its script, its stylesheet and the shared decoder with their content types', async () => {
    const cases: [string, RegExp, string][] = [
      ['/', /^text\/html; charset=utf-8$/, join(VIEWER_DIR, 'index.html')],
      ['/index.html', /^text\/html; charset=utf-8$/, join(VIEWER_DIR, 'index.html')],
      ['/viewer.js', /^text\/javascript; charset=utf-8$/, join(VIEWER_DIR, 'viewer.js')],
      ['/viewer.css', /^text\/css; charset=utf-8$/, join(VIEWER_DIR, 'viewer.css')],
      ['/protocol-client.js', /^text\/javascript; charset=utf-8$/, join(REPO_ROOT, 'dist', 'clients', 'ts', 'protocol-client.js')],
    ];
    for (const [path, type, file] of cases) {
      const res = await rawRequest(port, path);
      assert.equal(res.status, 200, path);
      assert.match(res.headers.get('content-type') ?? '', type, path);
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff', path);
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'none'/, path);
      assert.match(csp, /connect-src 'self'/, path);
      const expected = readFileSync(file, 'utf8');
      assert.equal(res.body, path === '/' || path === '/index.html' ? expected.replaceAll('{{query}}', '') : expected, path);
    }
    // The query string is not part of the route.
    assert.equal((await rawRequest(port, '/viewer.js?x=1')).status, 200);
    const head = await rawRequest(port, '/viewer.css', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal((await rawRequest(port, '/viewer.js', 'POST')).status, 405);
  });

  it("carries the page's token into its file URLs, escaped", async () => {
    const res = await rawRequest(port, '/?token=a%22b%3Cc%20d&other=1');
    assert.equal(res.status, 200);
    assert.ok(res.body.includes('src="viewer.js?token=a%22b%3Cc%20d"'), res.body);
    assert.ok(res.body.includes('href="viewer.css?token=a%22b%3Cc%20d"'));
    assert.ok(!res.body.includes('{{query}}'));
    assert.ok(!res.body.includes('other=1'), 'only the token is carried');
  });

  it('no path outside the fixed routes reaches a file', async () => {
    const secret = readFileSync(join(REPO_ROOT, 'package.json'), 'utf8').slice(0, 40);
    const attempts = [
      '/../package.json',
      '/../../package.json',
      '/viewer.js/../../package.json',
      '/%2e%2e/package.json',
      '/%2E%2E/%2E%2E/package.json',
      '/..%2fpackage.json',
      '/%2e%2e%2fpackage.json',
      '/viewer/../package.json',
      '//etc/passwd',
      '/etc/passwd',
      '/daemon/viewer/viewer.js',
      '/dist/clients/ts/protocol-client.js',
      '/viewer.js%00',
      '/./viewer.js',
      '/VIEWER.JS',
      'http://127.0.0.1/../package.json',
    ];
    for (const path of attempts) {
      const res = await rawRequest(port, path);
      assert.ok(res.status === 404 || res.status === 400, `${path}: status ${res.status}`);
      assert.ok(!res.body.includes(secret) && !res.body.includes('root:'), `${path}: no file content in the reply`);
    }
  });
});
