/**
 * The Node.js version check, run before anything else at start (cli.ts imports it first): an older
 * Node (Debian 12's own nodejs is 18.x) would otherwise fail later with an obscure error. The
 * required version is package.json's `engines.node` (one source of truth), a `>=X.Y[.Z]` bound.
 */
import { readFileSync } from 'node:fs';

/** Why `actual` does not satisfy `>=X.Y[.Z]` `required`, or null when it does. */
export function nodeVersionProblem(actual: string, required: string): string | null {
  const want = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(required.trim());
  if (want === null) throw new Error(`package.json engines.node: expected ">=X.Y.Z", got "${required}"`);
  const have = /^v?(\d+)\.(\d+)\.(\d+)/.exec(actual);
  if (have === null) return `cannot read the Node.js version "${actual}"`;
  const a = [1, 2, 3].map((i) => Number(have[i]));
  const w = [1, 2, 3].map((i) => Number(want[i] ?? 0));
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) > (w[i] ?? 0)) return null;
    if ((a[i] ?? 0) < (w[i] ?? 0)) {
      return `Node.js ${actual} is too old: segd needs Node.js ${required.replace(/\s+/g, '')} (package.json "engines"); install a supported Node.js (docs/running.md, "Under systemd")`;
    }
  }
  return null;
}

export function requiredNodeVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { engines?: { node?: unknown } };
  return String(pkg.engines?.node ?? '>=0');
}
