// The shipped package on its own: the files `npm pack` would ship (package.json "files") copied
// into an empty directory with package-lock.json, and its dependencies installed there as
// docs/running.md ("Under systemd") does on the target: `npm ci --omit=dev` (from npm's cache when it
// has them). No source tree anywhere near it. npm prints no warning, onnxruntime-node's download of
// CUDA libraries stays skipped, no dev dependency is installed; the daemon starts from that copy,
// serves the viewer page and its protocol decoder, and reports its version.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cleanEnv, makeTempDir, runCli, startDaemonProcess, testConfig, writeConfig, type DaemonProcess } from '../helpers/daemon.js';
import { REPO_ROOT, SAMPLE_CLIP_VAL } from '../helpers/paths.js';

/** The package's file list as npm computes it (paths relative to the package root). */
function packedFiles(): string[] {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `npm pack --dry-run failed:\n${r.stderr}`);
  const [pack] = JSON.parse(r.stdout) as { files: { path: string }[] }[];
  assert.ok(pack, 'npm pack printed no package');
  return pack.files.map((f) => f.path);
}

describe('the installed package', { timeout: 420_000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let root: string;
  let files: string[];
  let daemon: DaemonProcess | null = null;
  let npmOutput = '';

  before(() => {
    tmp = makeTempDir('segd-install-');
    root = join(tmp.dir, 'opt-segd');
    files = packedFiles();
    for (const f of files) {
      mkdirSync(dirname(join(root, f)), { recursive: true });
      copyFileSync(join(REPO_ROOT, f), join(root, f));
    }
    copyFileSync(join(REPO_ROOT, 'package-lock.json'), join(root, 'package-lock.json'));
    // As on the target; cleanEnv: no ONNXRUNTIME_NODE_INSTALL, so package.json "allowScripts" alone keeps the download off.
    const r = spawnSync('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: root, encoding: 'utf8', timeout: 300_000, env: cleanEnv() });
    npmOutput = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 0, `npm ci --omit=dev failed:\n${npmOutput}`);
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

  it('npm ci --omit=dev installs without a warning, skips the CUDA download and every dev dependency', () => {
    assert.doesNotMatch(npmOutput, /npm warn/i, npmOutput);
    const ortBin = join(root, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', 'linux', 'x64');
    assert.ok(existsSync(join(ortBin, 'libonnxruntime.so.1')), 'the bundled CPU provider is there');
    assert.deepEqual(readdirSync(ortBin).filter((f) => /cuda|tensorrt/i.test(f)), [], 'no CUDA/TensorRT library was downloaded');
    for (const dev of ['typescript', 'eslint', 'playwright-core', 'typescript-eslint']) {
      assert.ok(!existsSync(join(root, 'node_modules', dev)), `dev dependency ${dev} installed`);
    }
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
