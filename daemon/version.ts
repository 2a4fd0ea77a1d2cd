import { readFileSync } from 'node:fs';

/** segd's version (package.json), for `--version` and the Home Assistant devices' sw_version. */
export function segdVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return String(pkg.version ?? 'unknown');
}
