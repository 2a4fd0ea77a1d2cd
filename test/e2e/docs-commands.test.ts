// The docs check: every fenced shell command and config snippet of README.md and docs/*.md is run or
// checked here, so a doc that drifts from the code fails CI.
//
//   sh     every command runs, block by block in one bash (variables carry over), from the repository
//          root against a live daemon started on the default config (127.0.0.1:8080 in a command
//          becomes the daemon's port); curl answering >= 400 fails the block. A block followed by a
//          json block must print exactly that JSON. `npm start` is started and stopped once ready;
//          `python -m segd_train <command> …` lines are checked flag by flag against that command's
//          --help. What cannot run here is in EXCLUDED below, each with its reason; an entry that
//          matches nothing fails, so the list cannot rot.
//   yaml   a segd config (or part of one: minimal streams/model are added) goes through
//          `check-config` (/etc/segd/… paths become files in a temp dir: PEMs made by openssl);
//          a training recipe is merged onto the recipe the doc says to copy and loaded by
//          segd_train's own loader; Home Assistant YAML is parsed and its topics checked.
//   ini    systemd snippets are added to a copy of systemd/segd.service and pass systemd-analyze verify.
//   other  code in other languages (ts, js, python), payload samples (json) and plain text are not
//          commands: NOT_CHECKED says where each is covered.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { cleanEnv, makeTempDir, runCli, startDaemonProcess, type DaemonProcess } from '../helpers/daemon.js';
import { docBlocks, docFiles, shellCommands, type DocBlock, type DocCommand } from '../helpers/doc-blocks.js';
import { CAMVID_DIR, REPO_ROOT } from '../helpers/paths.js';

/** Commands that cannot run in CI, and why. Matched against the whole (joined) command line. */
const EXCLUDED: readonly { readonly match: RegExp; readonly why: string }[] = [
  { match: /^bash scripts\/setup\.sh\b/, why: 'installs system packages (apt) and runs npm ci: CI runs it before the tests' },
  { match: /\bsudo\b/, why: 'needs root and changes the machine (apt, /opt/segd, /etc/segd, systemctl)' },
  { match: /deb\.nodesource\.com/, why: 'downloads from outside the package registries CI may reach' },
  { match: /^npm run build\b/, why: 'rebuilds dist/, which this test runs from (npm test builds first); the soak test behind it runs 30 minutes' },
  { match: /^mosquitto_sub -h broker\.lan\b/, why: 'subscribes forever to a broker named broker.lan; topics and payloads are checked on a live broker by test/e2e/mqtt-daemon.test.ts' },
  { match: /^ffmpeg .*\.\.\/shared\//, why: 'writes the test clips into ../shared, which the test suite reads (and needs a system ffmpeg)' },
  { match: /^ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install\.js$/, why: "downloads onnxruntime's CUDA/TensorRT libraries from NuGet, outside the registries CI may reach, for a GPU CI has not" },
  { match: /^trtexec\b/, why: 'needs TensorRT and an NVIDIA GPU; the onnxruntime-backend route of docs/triton.md is the one checked against a real (CPU) Triton' },
];

/** Blocks that are not commands or configs, by language. */
const NOT_CHECKED: Readonly<Record<string, string>> = {
  '': 'plain text: program output, directory layouts, usage summaries',
  json: 'payload samples (a json block right after a sh block is that command\'s output, and is compared)',
  ts: 'client library example; the library is exercised by test/e2e/clients-ts.test.ts',
  js: 'subscriber example; MQTT payloads are checked by test/e2e/mqtt-daemon.test.ts',
  python: 'decoder example; the Python client is exercised by test/e2e/clients-python.test.ts',
};

const DOC_PORT = '127.0.0.1:8080';
const VENV_PYTHON = join(REPO_ROOT, 'training', '.venv', 'bin', 'python');

/** curl as documented, failing on an HTTP error unless the block's output is compared instead. */
const CURL_SHIM = `curl() {
  local out code
  out=$(command curl -w '\\n%{http_code}' "$@") || return
  code=\${out##*$'\\n'}
  printf '%s\\n' "\${out%$'\\n'*}"
  if [ -z "\${DOCS_EXPECT_OUTPUT:-}" ] && [ "$code" -ge 400 ]; then echo "HTTP $code from: curl $*" >&2; return 22; fi
}`;

const blocks = docFiles().flatMap((f) => docBlocks(f));
const where = (b: { file: string; line: number }): string => `${b.file}:${b.line}`;

describe('e2e: every documented command and config snippet works as written', { timeout: 900_000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let daemon: DaemonProcess;
  const used = new Set<RegExp>();
  /** Per file, the variable assignments of its earlier blocks (API=…, AUTH=…): a reader has them set. */
  const assignments = new Map<string, string[]>();

  before(async () => {
    tmp = makeTempDir('segd-e2e-docs-');
    // The default config, as `npm start` runs it; only the port is free instead of 8080.
    daemon = await startDaemonProcess({ args: ['run', '--port', '0'], cwd: REPO_ROOT });
    await daemon.waitForReady(120_000);
  });
  after(async () => {
    await daemon?.stop();
    tmp?.cleanup();
  });

  it('every fenced block has a language this test knows', () => {
    const unknown = blocks.filter((b) => !['sh', 'yaml', 'ini', ...Object.keys(NOT_CHECKED)].includes(b.lang));
    assert.deepEqual(unknown.map((b) => `${where(b)} (${b.lang})`), []);
  });

  for (const block of blocks.filter((b) => b.lang === 'sh')) {
    it(`sh ${where(block)}`, { timeout: 300_000 }, async () => {
      const script: string[] = [];
      for (const cmd of shellCommands(block)) {
        const excluded = EXCLUDED.find((e) => e.match.test(cmd.text));
        if (excluded !== undefined) {
          used.add(excluded.match);
          continue;
        }
        const train = /^\.venv\/bin\/python -m segd_train (\S+)(.*)$/.exec(cmd.text);
        if (train !== null) {
          checkTrainingFlags(cmd, train[1] as string, train[2] as string);
          continue;
        }
        if (/^npm start\b/.test(cmd.text)) {
          await checkNpmStart(cmd);
          continue;
        }
        const line = rewrite(cmd.text, daemon.port, tmp.dir);
        script.push(`echo "+ ${where(cmd)}" >&2`, line);
        if (/^[A-Z_][A-Z0-9_]*=/.test(cmd.text)) assignments.set(block.file, [...(assignments.get(block.file) ?? []), line]);
      }
      if (script.length === 0) return;
      const expected = block.next?.lang === 'json' ? block.next : null;
      const earlier = (assignments.get(block.file) ?? []).filter((a) => !script.includes(a));
      const r = spawnSync('bash', ['-c', ['set -eo pipefail', CURL_SHIM, ...earlier, ...script].join('\n')], {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        timeout: 240_000,
        env: cleanEnv(expected !== null ? { DOCS_EXPECT_OUTPUT: '1' } : {}),
      });
      assert.equal(r.status, 0, `${where(block)} failed (exit ${String(r.status)}):\n${r.stdout}\n${r.stderr}`);
      if (expected !== null) {
        assert.deepEqual(JSON.parse(r.stdout.trim().split('\n')[0] as string), JSON.parse(expected.body), `${where(block)}: the output differs from ${where(expected)}`);
      }
      if (block.body.includes('> ../shared/data/camvid/classes.json')) {
        const made = JSON.parse(readFileSync(join(tmp.dir, 'classes.json'), 'utf8')) as Record<string, unknown>;
        const shared = JSON.parse(readFileSync(join(CAMVID_DIR, 'classes.json'), 'utf8')) as Record<string, unknown>;
        for (const k of ['name', 'ignore_index', 'classes']) assert.deepEqual(made[k], shared[k], `classes.json ${k}`);
      }
    });
  }

  for (const block of blocks.filter((b) => b.lang === 'yaml')) {
    it(`yaml ${where(block)}`, { timeout: 120_000 }, async () => {
      const doc = parse(block.body) as Record<string, unknown>;
      assert.ok(doc !== null && typeof doc === 'object', `${where(block)}: not a YAML mapping`);
      if ('automation' in doc || isHomeAssistantMqtt(doc)) return checkHomeAssistant(block, doc);
      if ('data_root' in doc) return checkRecipe(block, doc, tmp.dir);
      return checkSegdConfig(block, doc, tmp.dir);
    });
  }

  for (const block of blocks.filter((b) => b.lang === 'ini')) {
    it(`ini ${where(block)}`, () => checkSystemdSnippet(block, tmp.dir));
  }

  it('every EXCLUDED entry still matches a documented command', () => {
    assert.deepEqual(EXCLUDED.filter((e) => !used.has(e.match)).map((e) => String(e.match)), []);
  });
});

/** The command as it runs here: the daemon's port; a write into ../shared goes to the temp dir. */
function rewrite(text: string, port: number, tmpDir: string): string {
  return text.replaceAll(DOC_PORT, `127.0.0.1:${port}`).replace('> ../shared/data/camvid/classes.json', `> ${JSON.stringify(join(tmpDir, 'classes.json'))}`);
}

/** Every --flag of a documented segd_train command is one its --help lists. */
function checkTrainingFlags(cmd: DocCommand, command: string, rest: string): void {
  const help = spawnSync(VENV_PYTHON, ['-m', 'segd_train', command, '--help'], { cwd: join(REPO_ROOT, 'training'), encoding: 'utf8', timeout: 120_000 });
  assert.equal(help.status, 0, `${where(cmd)}: segd_train ${command} --help failed:\n${help.stderr}`);
  for (const flag of rest.match(/(?<=\s)--[a-z][a-z0-9-]*/g) ?? []) {
    assert.ok(new RegExp(`(^|[\\s,\\[])${flag}\\b`, 'm').test(help.stdout), `${where(cmd)}: segd_train ${command} has no ${flag}`);
  }
}

/** `npm start` starts the daemon on the default config (SEGD_PORT=0 instead of 8080) and it gets ready. */
async function checkNpmStart(cmd: DocCommand): Promise<void> {
  const d = await startDaemonProcess({ args: [], cwd: REPO_ROOT, command: ['npm', 'start'], env: cleanEnv({ SEGD_PORT: '0' }) });
  try {
    await d.waitForReady(120_000);
  } catch (err) {
    assert.fail(`${where(cmd)}: npm start did not get ready: ${String(err)}`);
  } finally {
    await d.stop();
  }
}

function isHomeAssistantMqtt(doc: Record<string, unknown>): boolean {
  const m = doc['mqtt'];
  return typeof m === 'object' && m !== null && ('binary_sensor' in m || 'sensor' in m);
}

/**
 * Home Assistant YAML: every topic it names is one of segd's (docs/mqtt.md, "Topics"); every entity
 * id is one segd's discovery makes (pipeline/publish/ha-discovery.ts: `<stream>_<object>`).
 */
function checkHomeAssistant(block: DocBlock, doc: Record<string, unknown>): void {
  const topics: string[] = [];
  const walk = (v: unknown, key: string): void => {
    if (typeof v === 'string' && /(^|_)topic$/.test(key)) topics.push(v);
    else if (Array.isArray(v)) v.forEach((x) => walk(x, key));
    else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(doc, '');
  const entities = [...block.body.matchAll(/\b(binary_sensor|sensor|camera)\.[a-z0-9_]+/g)].map((m) => m[0]);
  assert.ok(topics.length + entities.length > 0, `${where(block)}: no topic and no entity`);
  const discovered = /^(binary_sensor\.[a-z0-9_]+_zone_[a-z0-9_]+_occupancy|sensor\.[a-z0-9_]+_(zone_[a-z0-9_]+_coverage|masks_per_second|class_[a-z0-9_]+_coverage)|camera\.[a-z0-9_]+_snapshot)$/;
  for (const e of entities) assert.match(e, discovered, `${where(block)}: ${e} is not an entity segd's discovery makes`);
  const segdTopic = /^segd\/(nodes\/[A-Za-z0-9_-]+\/status|[A-Za-z0-9_-]+\/(stats|events|mask|snapshot|zones\/[A-Za-z0-9_-]+\/(state|snapshot)))$/;
  for (const t of topics) assert.match(t, segdTopic, `${where(block)}: ${t} is not a segd topic`);
}

/** A training recipe snippet: the recipe the doc says to copy, with the snippet's keys, loads. */
function checkRecipe(block: DocBlock, doc: Record<string, unknown>, tmpDir: string): void {
  const text = readFileSync(join(REPO_ROOT, block.file), 'utf8');
  const base = /Copy `(configs\/[^`]+\.yaml)`/.exec(text)?.[1];
  assert.ok(base, `${where(block)}: the doc names no recipe to copy`);
  const merged = { ...(parse(readFileSync(join(REPO_ROOT, 'training', base), 'utf8')) as Record<string, unknown>), ...doc };
  const path = join(tmpDir, `recipe-${block.line}.yaml`);
  writeFileSync(path, stringify(merged));
  const r = spawnSync(VENV_PYTHON, ['-c', 'import sys; from segd_train.engine.config import load_config; load_config(sys.argv[1])', path], {
    cwd: join(REPO_ROOT, 'training'),
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `${where(block)}: the recipe does not load:\n${r.stderr}`);
}

/** A segd config snippet through check-config; /etc/segd/… files are made in a temp folder. */
async function checkSegdConfig(block: DocBlock, doc: Record<string, unknown>, tmpDir: string): Promise<void> {
  const etc = join(tmpDir, 'etc-segd');
  mkdirSync(etc, { recursive: true });
  let text = block.body;
  for (const m of new Set(block.body.match(/\/etc\/segd\/[\w.-]+/g) ?? [])) {
    const file = join(etc, m.slice('/etc/segd/'.length));
    if (file.endsWith('.pem')) {
      const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=docs-test', '-keyout', `${file}.key`, '-out', file], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    } else if (!file.endsWith('.yaml')) writeFileSync(file, 'docs-test-token-0123456789abcdef\n');
    text = text.replaceAll(m, file);
  }
  const cfg = parse(text) as Record<string, unknown>;
  // A fragment (one section) is checked inside a minimal config: the bundled clip and model.
  cfg['streams'] ??= [{ id: 'docs', url: join(REPO_ROOT, 'config', 'samples', 'camvid-0016E5-val.mp4') }];
  cfg['model'] ??= { path: join(REPO_ROOT, 'models', 'sctnet-s-lite0-camvid-int8.onnx') };
  const path = join(tmpDir, `config-${block.file.replace(/\W/g, '_')}-${block.line}.yaml`);
  writeFileSync(path, stringify(cfg));
  const r = await runCli(['check-config', path]);
  assert.equal(r.code, 0, `${where(block)}: check-config refused it:\n${r.stderr}`);
  assert.ok(r.stdout.startsWith(`OK ${path}`), r.stdout);
  assert.ok(Object.keys(doc).length > 0);
}

/** A systemd snippet: its directives added to a copy of the unit, which still verifies clean. */
function checkSystemdSnippet(block: DocBlock, tmpDir: string): void {
  const lines = block.body.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#') && !/^\[\w+\]$/.test(l.trim()));
  assert.ok(lines.length > 0, `${where(block)}: no directive`);
  const unit = readFileSync(join(REPO_ROOT, 'systemd', 'segd.service'), 'utf8')
    .replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `)
    .replace('\n[Install]', `\n${lines.join('\n')}\n\n[Install]`);
  const path = join(tmpDir, `docs-${block.line}.service`);
  writeFileSync(path, unit);
  const r = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `${where(block)}:\n${r.stdout}${r.stderr}`);
  assert.equal(`${r.stdout}${r.stderr}`.trim(), '', `${where(block)}: systemd-analyze verify warned`);
}
