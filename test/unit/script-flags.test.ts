// scripts/flags.ts: the bench and tool scripts answer --help with their usage and refuse a mistyped flag by
// name (exit 2), instead of node's parseArgs stack trace. Run as real processes on the built scripts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { usageOf } from '../../scripts/flags.js';
import { REPO_ROOT } from '../helpers/paths.js';

const SCRIPT = join(REPO_ROOT, 'dist', 'scripts', 'sim-overload.js');

function run(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('script flags', () => {
  it('usage lists every visible flag with its default, hidden ones left out', () => {
    const usage = usageOf('npm run bench --', {
      rounds: { type: 'string', default: '3' },
      model: { type: 'string' },
      peers: { type: 'boolean', default: false },
      bare: { type: 'boolean', default: false },
    }, ['bare']);
    assert.equal(usage, 'usage: npm run bench -- [--rounds X (3)] [--model X] [--peers]');
  });

  it('--help prints the usage and exits 0', () => {
    const r = run('--help');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^usage: node dist\/scripts\/sim-overload\.js .*\[--streams X \(8\)\]/);
    assert.equal(r.stderr, '');
  });

  it('a mistyped flag is named, with the usage, exit 2 and no stack trace', () => {
    const r = run('--stremas', '4');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /sim-overload\.js: Unknown option '--stremas'/);
    assert.match(r.stderr, /usage: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
});
