// Runs the compiled node test files (dist/test/<tier>/**/*.test.js) with node's test runner.
//
//   node scripts/run-node-tests.mjs                    every tier: unit, integration, e2e
//   node scripts/run-node-tests.mjs unit               one tier (or several: unit integration)
//   node scripts/run-node-tests.mjs e2e faults         a tier, narrowed to files whose path contains "faults"
//   node scripts/run-node-tests.mjs sources-url        any tier, narrowed by substring
//
// Tiers (test/README.md): unit = pure logic (no child processes, no sockets); integration = one
// component with its real peers (ffmpeg, ONNX Runtime, sockets, promtool, Chromium); e2e = the
// whole daemon. Node 20's `--test` takes no globs, so the list is built here. Files run one at a
// time (--test-concurrency=1): they start real ffmpeg children and ONNX Runtime sessions, and two
// cores are shared by all of them.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';

const TIERS = ['unit', 'integration', 'e2e'];
const ROOT = 'dist/test';

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...collect(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const tiers = args.filter((a) => TIERS.includes(a));
const only = args.filter((a) => !TIERS.includes(a));
const dirs = (tiers.length > 0 ? tiers : TIERS).map((t) => join(ROOT, t));
const missing = dirs.filter((d) => !existsSync(d));
if (missing.length > 0) {
  console.error(`run-node-tests: no compiled tests in ${missing.join(', ')} (run \`npm run build\`)`);
  process.exit(1);
}
// Fast tiers first; sorted within a tier.
const byDir = dirs.map((d) => ({
  dir: d,
  files: collect(d).sort().filter((f) => only.length === 0 || only.some((o) => f.includes(o))),
}));
if (byDir.every((t) => t.files.length === 0)) {
  console.error(`run-node-tests: no test file under ${dirs.join(', ')} matches ${only.map((o) => JSON.stringify(o)).join(' or ')}`);
  process.exit(1);
}
// The unit tier must pass on a bare clone (no ../shared data beside it): it runs with SEGD_SHARED
// pointing at a folder that does not exist, so a unit test that reads shared data fails here too.
const NO_SHARED = join(tmpdir(), 'segd-unit-tier-uses-no-shared-data');
let status = 0;
for (const { dir, files } of byDir) {
  if (files.length === 0) continue;
  const env = dir === join(ROOT, 'unit') ? { ...process.env, SEGD_SHARED: NO_SHARED } : process.env;
  const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
    stdio: 'inherit',
    env,
  });
  if (r.status !== 0) status = r.status ?? 1;
}
process.exit(status);
