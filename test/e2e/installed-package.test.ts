// The shipped package on its own: the files `npm pack` would ship (package.json "files") copied
// into an empty directory with node_modules linked, no source tree anywhere near it. The daemon
// starts from that copy, serves the viewer page and its protocol decoder, and reports its version.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTempDir, runCli, startDaemonProcess, testConfig, writeConfig, type DaemonProcess } from '../helpers/daemon.js';
import { REPO_ROOT, SAMPLE_CLIP_VAL } from '../helpers/paths.js';

/** The package's file list as npm computes it (paths relative to the package root). */
function packedFiles(): string[] {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `npm pack --dry-run failed:\n${r.stderr}`);
  const [pack] = JSON.parse(r.stdout) as { files: { path: string }[] }[];
  assert.ok(pack, 'npm pack printed no package');
  return pack.files.map((f) => f.path);
}

describe('the installed package', { timeout: 240_000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let root: string;
  let files: string[];
  let daemon: DaemonProcess | null = null;

  before(() => {
    tmp = makeTempDir('segd-install-');
    root = join(tmp.dir, 'opt-segd');
    files = packedFiles();
    for (const f of files) {
      mkdirSync(dirname(join(root, f)), { recursive: true });
      copyFileSync(join(REPO_ROOT, f), join(root, f));
    }
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
  });
  after(async () => {
    await daemon?.stop();
    tmp.cleanup();
  });

  it('ships the compiled code and the viewer assets, not the sources or the tests', () => {
    for (const f of ['dist/daemon/cli.js', 'dist/daemon/viewer/index.html', 'dist/daemon/viewer/viewer.js', 'dist/daemon/viewer/viewer.css', 'dist/clients/ts/protocol-client.js', 'config/default.yaml', 'models/sctnet-s-camvid.onnx', 'models/sctnet-s-camvid.json', 'models/model-card.schema.json']) {
      assert.ok(files.includes(f), `${f} is not shipped`);
    }
    for (const f of files) assert.doesNotMatch(f, /^(daemon|pipeline|test|scripts|dist\/test|dist\/scripts)\/|\.ts$(?<!\.d\.ts$)/, `${f} should not ship`);
  });

  it('runs from the copy alone: version, readiness and the viewer page with its decoder', async () => {
    const cliPath = join(root, 'dist', 'daemon', 'cli.js');
    const version = await runCli(['--version'], { cliPath, cwd: tmp.dir });
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version);

    const config = testConfig([{ id: 'sample', url: SAMPLE_CLIP_VAL }], {
      model: { path: join(root, 'models', 'sctnet-s-camvid.onnx'), providers: ['cpu'], warmupRuns: 1, cpu: { intraOpThreads: 1, interOpThreads: 1 } },
    });
    daemon = await startDaemonProcess({ args: ['run', '--config', writeConfig(tmp.dir, config)], cliPath, cwd: tmp.dir });
    await daemon.waitForReady();
    assert.ok(!existsSync(join(root, 'daemon')), 'no source tree in the installation');
    for (const [path, file] of [
      ['/viewer.js', 'dist/daemon/viewer/viewer.js'],
      ['/viewer.css', 'dist/daemon/viewer/viewer.css'],
      ['/protocol-client.js', 'dist/clients/ts/protocol-client.js'],
    ] as const) {
      const res = await fetch(`${daemon.httpUrl}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(await res.text(), readFileSync(join(root, file), 'utf8'), `${path} is the installed ${file}`);
    }
    const page = await fetch(`${daemon.httpUrl}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script[^>]+src="viewer\.js"/);
    assert.deepEqual(
      daemon.logs.filter((l) => l.msg === 'viewer page disabled: a file of it cannot be read'),
      [],
      'every viewer file was found in the installation',
    );
  });
});
