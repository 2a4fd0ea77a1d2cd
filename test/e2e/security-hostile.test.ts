// Hostile clients against the daemon process (issue 28), run as an attacker would on the same
// host against the default config (no token): deeply nested WebSocket messages and API bodies
// are answered with an error and stop nothing; another client keeps receiving masks.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api } from '../helpers/control-api.js';
import { makeTempDir, startReadyDaemon, testConfig, type DaemonProcess } from '../helpers/daemon.js';
import { E2eClient } from '../helpers/e2e-client.js';
import { SAMPLE_CLIP_VAL } from '../helpers/paths.js';

const nest = (depth: number, inner = ''): string => '['.repeat(depth) + inner + ']'.repeat(depth);

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
});
