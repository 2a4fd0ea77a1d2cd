// PUT /api/model with a relative path: it resolves against the daemon's working directory (here
// the repository root, as `npm start` runs it; /opt/segd under systemd), not the config file's
// directory, and a refusal names the directory it resolved against.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BUNDLED_SAMPLE_CLIP, REPO_ROOT } from '../helpers/paths.js';
import { makeTempDir, startReadyDaemon, testConfig, type DaemonProcess } from '../helpers/daemon.js';
import { api } from '../helpers/control-api.js';

describe('e2e: relative model paths in PUT /api/model', { timeout: 300_000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let daemon: DaemonProcess;

  before(async () => {
    tmp = makeTempDir('segd-e2e-model-relative-'); // the config lives here; the daemon runs in REPO_ROOT
    daemon = await startReadyDaemon(tmp.dir, testConfig([{ id: 'cam', url: BUNDLED_SAMPLE_CLIP }]));
  });
  after(async () => {
    await daemon?.stop();
    tmp?.cleanup();
  });

  it('a missing relative file is refused naming the resolved path and the directory it resolved against', async () => {
    const r = await api(daemon.httpUrl, 'PUT', '/api/model', { path: 'models/no-such-model.onnx' });
    assert.equal(r.status, 422, JSON.stringify(r.body));
    const message = String(r.body['message']);
    assert.ok(message.includes(join(REPO_ROOT, 'models', 'no-such-model.onnx')), message);
    assert.ok(message.endsWith(`(relative paths in PUT /api/model resolve against the daemon's working directory, ${REPO_ROOT})`), message);
  });

  it('models/<file>.onnx, as a user in the daemon directory types it, is swapped in', { timeout: 180_000 }, async () => {
    const r = await api(daemon.httpUrl, 'PUT', '/api/model', { path: 'models/sctnet-s-camvid-int8.onnx' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const model = r.body['model'] as { path: string; name: string };
    assert.equal(model.path, join(REPO_ROOT, 'models', 'sctnet-s-camvid-int8.onnx'));
    assert.equal(model.name, 'sctnet-s-camvid-int8');
  });
});
