// The segd command line, run as a real child process: help, version, check-config and the exit
// codes of `run` when it must not start (bad config, bad overrides).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, SAMPLE_CLIP_VAL, SHARED_DIR } from '../helpers/paths.js';
import { MODEL_PATH, cleanEnv, makeTempDir, runCli, writeConfig } from '../helpers/daemon.js';

const SEVERAL_ERRORS = [
  'server: { port: 123456 }',
  'log: { level: loud }',
  `sources: { allowedDirs: [${JSON.stringify(SHARED_DIR)}] }`, // the shared clip is outside the config's directory
  'streams:',
  `  - { id: cam1, url: ${JSON.stringify(SAMPLE_CLIP_VAL)}, realtime: sometimes }`,
  '  - { id: cam1, url: "nope://x" }',
].join('\n');

describe('segd CLI', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let good: string;
  let bad: string;
  before(() => {
    tmp = makeTempDir('segd-cli-');
    good = writeConfig(tmp.dir, `sources: { allowedDirs: [${JSON.stringify(SHARED_DIR)}] }\nstreams:\n  - { id: cam1, url: ${JSON.stringify(SAMPLE_CLIP_VAL)} }\n`, 'good.yaml');
    bad = writeConfig(tmp.dir, SEVERAL_ERRORS, 'bad.yaml');
  });
  after(() => tmp.cleanup());

  it('--help and -h print usage and exit 0', async () => {
    for (const flag of ['--help', '-h']) {
      const r = await runCli([flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Usage: node dist\/daemon\/cli.js <command>/);
      assert.match(r.stdout, /check-config/);
      assert.match(r.stdout, /SEGD_PORT/);
    }
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await runCli(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${pkg.version}\n`);
  });

  it('no command, an unknown command or an unknown flag: usage on stderr, exit 2', async () => {
    for (const args of [[], ['serve'], ['run', '--colour']]) {
      const r = await runCli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /Usage: node dist\/daemon\/cli.js/);
    }
  });

  it('check-config on a valid file prints OK and a summary', async () => {
    const r = await runCli(['check-config', good]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.startsWith(`OK ${good}\n`), r.stdout);
    assert.match(r.stdout, /server: 127\.0\.0\.1:8080/);
    assert.match(r.stdout, /cam1: .*camvid-0016E5-val\.mp4 \(loop true, realtime true/);
  });

  it('check-config never prints credentials', async () => {
    // As under systemd: the token from the credential file SEGD_TOKEN_FILE names.
    const token = 'example-token-0123456789abcdef';
    const tokenFile = join(tmp.dir, 'segd-token');
    writeFileSync(tokenFile, `${token}\n`);
    const r = await runCli(['check-config', join(REPO_ROOT, 'config', 'segd.example.yaml')], { env: cleanEnv({ SEGD_TOKEN_FILE: tokenFile }) });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /gate: rtsp:\/\//);
    assert.match(r.stdout, /^server: 0\.0\.0\.0:8080 \(bearer token required\)$/m);
    assert.ok(!r.stdout.includes('secret') && !r.stdout.includes(token), r.stdout);
  });

  it('the example config, LAN-facing, is refused without a token', async () => {
    const r = await runCli(['check-config', join(REPO_ROOT, 'config', 'segd.example.yaml')]);
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, /SEGD_CONFIG_INVALID: server\.host: 0\.0\.0\.0 is reachable beyond this machine, and no bearer token is set/);
  });

  it('check-config on a file with several errors prints every one and exits 2', async () => {
    const r = await runCli(['check-config', bad]);
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, /SEGD_CONFIG_INVALID/);
    assert.ok(r.stderr.includes(bad), r.stderr);
    for (const field of ['server.port', 'log.level', 'streams[0].realtime', 'streams[1].id', 'streams[1].url']) {
      assert.ok(r.stderr.includes(`${field}: `), `${field} not named in:\n${r.stderr}`);
    }
    assert.match(r.stderr, /5 problems/);
  });

  it('check-config on a missing file exits 2 naming it', async () => {
    const missing = join(tmp.dir, 'missing.yaml');
    const r = await runCli(['check-config', missing]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /SEGD_CONFIG_UNREADABLE/);
    assert.ok(r.stderr.includes(missing), r.stderr);
  });

  it('run with an invalid config exits 2 with every violation, before starting anything', async () => {
    const r = await runCli(['run', '--config', bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /5 problems/);
    assert.equal(r.stdout, '', 'no daemon log line: nothing was started');
  });

  it('run with a zone that covers no pixel of the model\'s masks exits 2 naming the stream, the zone and the field', async () => {
    // Known only once the model is: the schema passes it, the analysis refuses it, the daemon reports a config error.
    const tiny = writeConfig(
      tmp.dir,
      `model: { path: ${JSON.stringify(MODEL_PATH)} }\nsources: { allowedDirs: [${JSON.stringify(SHARED_DIR)}] }\nstreams:\n  - id: cam1\n    url: ${JSON.stringify(SAMPLE_CLIP_VAL)}\n    zones: [{ name: speck, classes: [car], polygon: [[0, 0], [0.0005, 0], [0.0005, 0.0005]] }]\n`,
      'tiny-zone.yaml',
    );
    const r = await runCli(['run', '--config', tiny]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /SEGD_CONFIG_INVALID/);
    assert.match(r.stderr, /streams "cam1" zone "speck" \(zones\[0\]\) polygon: the polygon covers no pixel centre/);
  });

  it('SEGD_CONFIG selects the file; a bad SEGD_PORT is named and exits 2', async () => {
    const viaEnv = await runCli(['run'], { env: cleanEnv({ SEGD_CONFIG: bad }) });
    assert.equal(viaEnv.code, 2, viaEnv.stderr);
    assert.ok(viaEnv.stderr.includes(bad), viaEnv.stderr);

    const badPort = await runCli(['run', '--config', good], { env: cleanEnv({ SEGD_PORT: 'eighty' }) });
    assert.equal(badPort.code, 2, badPort.stderr);
    assert.match(badPort.stderr, /SEGD_PORT: expected an integer port 0-65535, got "eighty"/);
  });
});
