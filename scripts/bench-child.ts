/** Bench roles run in child processes, answering one JSON line on stdout. */
import { spawn } from 'node:child_process';

function lastLine(text: string): string {
  return text.trimEnd().split('\n').pop() ?? '';
}

/** Runs the compiled bench script `script` (a file URL/path) with `args` and parses its last stdout line. */
export async function runChild<T>(script: string, args: readonly string[], what: string): Promise<T> {
  const c = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  c.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => c.once('exit', resolve));
  if (code !== 0) throw new Error(`bench: ${what} exited with ${code}`);
  return JSON.parse(lastLine(out)) as T; // earlier lines: pino log lines
}

/** Fires `fn` at epoch ms `when` and resolves with its result. */
export function at<T>(when: number, fn: () => T | Promise<T>): Promise<T> {
  return new Promise((resolve, reject) => setTimeout(() => Promise.resolve().then(fn).then(resolve, reject), Math.max(0, when - Date.now())));
}
