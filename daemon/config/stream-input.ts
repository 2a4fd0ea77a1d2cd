/**
 * One stream given at run time (the control API's body), validated exactly as a `streams[]` item
 * of the config file: the same JSON Schema (pipeline/core/stream-config.ts), the same ajv options
 * (every violation, defaults applied), the same URL and zone checks (load.ts) and the same one-line-per-
 * violation wording (core/schema-errors.ts), so a stream added at run time is as valid as one in
 * the file. Field paths are relative to the stream (`url`, `maxFps`).
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { SegdError } from '../../pipeline/core/errors.js';
import { redactUrl } from '../../pipeline/core/redact.js';
import { formatAjvError } from '../../pipeline/core/schema-errors.js';
import { StreamConfigSchema, type StreamConfig } from '../../pipeline/core/stream-config.js';
import { zoneProblems } from '../../pipeline/core/zone-config.js';
import { checkStreamUrl, resolveStreamUrl } from './load.js';

let validator: ValidateFunction | null = null;

function getValidator(): ValidateFunction {
  validator ??= new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true }).compile(StreamConfigSchema);
  return validator;
}

/**
 * A validated stream with every default applied (a plain relative path resolved against
 * `baseDir`; a file under one of `allowedDirs`), or SEGD_CONFIG_INVALID whose `details` hold one line per violation. `raw` is not
 * modified.
 */
export function parseStreamInput(raw: unknown, baseDir: string, source: string, allowedDirs: readonly string[]): StreamConfig {
  // structuredClone: ajv writes defaults into what it validates.
  const data: unknown = typeof raw === 'object' && raw !== null ? structuredClone(raw) : raw;
  const validate = getValidator();
  const problems: string[] = [];
  if (!validate(data)) problems.push(...(validate.errors ?? []).map((e) => formatAjvError(e, { vocabulary: 'json' })));
  const record = typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : {};
  const urlProblem = checkStreamUrl(record['url'], baseDir, 'url', allowedDirs);
  if (urlProblem !== null) problems.push(urlProblem);
  problems.push(...zoneProblems(typeof record['id'] === 'string' ? record['id'] : '(no id)', record['zones'], ''));
  if (problems.length > 0) {
    const lines = problems.map(redactUrl);
    const n = lines.length;
    throw new SegdError('SEGD_CONFIG_INVALID', `${source}: ${n} problem${n === 1 ? '' : 's'}:\n  ${lines.join('\n  ')}`, lines);
  }
  const cfg = data as StreamConfig;
  return { ...cfg, url: resolveStreamUrl(cfg.url, baseDir) };
}

/** The field a problem line names (`url: expected …` → `url`); null for a line about the whole value. */
export function problemField(line: string): string | null {
  const m = /^([^:\s]+): /.exec(line);
  return m === null || m[1] === '(top level)' ? null : (m[1] ?? null);
}
