/**
 * Real models for tests: the training package's exporter (`python -m segd_train export
 * --untrained`) writes a seeded, untrained student and its card beside it. Needs training/.venv
 * (bash training/setup_env.sh, or scripts/setup.sh --test).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cleanEnv } from './daemon.js';
import { REPO_ROOT } from './paths.js';

export const TRAINING_DIR = join(REPO_ROOT, 'training');
export const VENV_PYTHON = join(TRAINING_DIR, '.venv', 'bin', 'python');
/** Hang guard for one export (they take ~20–60 s each on a 2-core CPU). */
export const EXPORT_TIMEOUT_MS = 300_000;

export interface Export {
  readonly ok: boolean;
  readonly seconds: number;
  readonly output: string;
}

/**
 * `python -m segd_train export --untrained` of `arch` to `out` (its card beside it, named after the
 * file's stem), at the shipped 360×480 unless `size` says otherwise.
 */
export function exportUntrained(arch: string, out: string, seed = 0, size: { height: number; width: number } = { height: 360, width: 480 }): Promise<Export> {
  const args = ['-m', 'segd_train', 'export', '--untrained', '--arch', arch, '--seed', String(seed), '--height', String(size.height), '--width', String(size.width), '--out', out, '--parity-frames', '0'];
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(VENV_PYTHON, args, { cwd: TRAINING_DIR, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), EXPORT_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const seconds = (performance.now() - t0) / 1000;
      const ok = code === 0 && existsSync(out) && existsSync(out.replace(/\.onnx$/, '.json'));
      resolve({ ok, seconds, output: ok ? output : `exit ${code ?? signal}\n${output.slice(-3000)}` });
    });
  });
}
