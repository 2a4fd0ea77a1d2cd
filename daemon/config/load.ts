/**
 * Reads a YAML config file, validates it (every violation at once), applies defaults and
 * resolves relative paths against the file's directory.
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parseDocument } from 'yaml';
import { SegdError } from '../../pipeline/core/errors.js';
import { redactUrl } from '../../pipeline/core/redact.js';
import { parseSourceUrl } from '../../pipeline/sources/index.js';
import type { StreamConfig } from '../../pipeline/core/stream-config.js';
import { configSchema, type SegdConfig } from './schema.js';
import { fieldPath, formatAjvError } from '../../pipeline/core/schema-errors.js';
import { zoneProblems } from '../../pipeline/core/zone-config.js';
import { MAX_CONFIG_FILE_BYTES, readProblem, readRegularFile } from '../../pipeline/core/read-file.js';

let validator: ValidateFunction | null = null;

function getValidator(): ValidateFunction {
  // allErrors: report every violation in one pass; verbose: errors carry the offending value.
  validator ??= new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true }).compile(configSchema);
  return validator;
}

/** Read and validate a config file. Throws SEGD_CONFIG_UNREADABLE or SEGD_CONFIG_INVALID. */
export function loadConfigFile(path: string): SegdConfig {
  const file = resolve(path);
  let text: string;
  try {
    // Regular files only, size-capped: a device or FIFO given as --config is refused, not read (or waited on).
    text = readRegularFile(file, MAX_CONFIG_FILE_BYTES).toString('utf8');
  } catch (err) {
    const why = readProblem(err);
    throw new SegdError('SEGD_CONFIG_UNREADABLE', `config file ${file}: cannot read (${why})`, [], { cause: err });
  }
  return parseConfigText(text, { baseDir: dirname(file), source: file });
}

export interface ParseOptions {
  /** Directory that relative paths (model, file streams) are resolved against. */
  readonly baseDir: string;
  /** Name used in error messages (the file path). */
  readonly source: string;
}

/** Validate YAML text as a config. Throws SEGD_CONFIG_UNREADABLE (not YAML) or SEGD_CONFIG_INVALID. */
export function parseConfigText(text: string, opts: ParseOptions): SegdConfig {
  const raw = parseYaml(text, opts.source);
  const validate = getValidator();
  const problems: string[] = removedKeys(raw);
  if (!validate(raw)) problems.push(...(validate.errors ?? []).map((e) => nameZone(secretSafe(e) ?? formatAjvError(e), raw)));
  problems.push(...checkStreams(raw, opts.baseDir), ...checkMqtt(raw), ...checkKafka(raw), ...checkTriton(raw));
  if (problems.length > 0) {
    // Any value may be echoed (a URL pasted into the wrong field): redact every line.
    for (let i = 0; i < problems.length; i++) problems[i] = redactUrl(problems[i] as string);
    const n = problems.length;
    throw new SegdError(
      'SEGD_CONFIG_INVALID',
      `config file ${opts.source}: ${n} problem${n === 1 ? '' : 's'}:\n  ${problems.join('\n  ')}`,
      problems,
    );
  }
  return resolvePaths(raw as SegdConfig, opts.baseDir);
}

/** Fields whose values are secrets: a wrong type is reported without the value, whatever YAML made of it. */
const SECRET_FIELDS = new Set(['/server/token', '/mqtt/password', '/kafka/sasl/password']);

/** Under these, every value is a secret (auth headers to Triton). */
const SECRET_PREFIXES = ['/model/triton/headers/'];

function secretSafe(e: ErrorObject): string | null {
  if (!SECRET_FIELDS.has(e.instancePath) && !SECRET_PREFIXES.some((p) => e.instancePath.startsWith(p))) return null;
  return `${fieldPath(e.instancePath)}: expected ${e.keyword === 'minLength' ? 'a non-empty string' : 'a string (quote it in YAML)'}, got ${describeType(e.data)} (not shown: a secret)`;
}

function describeType(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : `a ${typeof v}`;
}

/**
 * The first value that is not plain JSON data (a `!!binary` Buffer, a `!!set`, a `!!timestamp`
 * Date…), as `path: what`; null when all are plain. Iterative: the value came from a file.
 */
function nonPlainValue(root: unknown): string | null {
  const stack: [unknown, string][] = [[root, '']];
  while (stack.length > 0) {
    const [v, path] = stack.pop() as [unknown, string];
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      v.forEach((x, i) => stack.push([x, `${path}[${i}]`]));
      continue;
    }
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      const what = v instanceof Uint8Array ? 'a !!binary value' : v instanceof Date ? 'a !!timestamp value' : v instanceof Set ? 'a !!set value' : v instanceof Map ? 'a !!omap/!!pairs value' : 'a tagged value';
      return `${path === '' ? '(top level)' : path}: expected a plain YAML scalar, mapping or sequence, got ${what}`;
    }
    for (const [k, x] of Object.entries(v)) stack.push([x, path === '' ? k : `${path}.${k}`]);
  }
  return null;
}

function parseYaml(text: string, source: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const errors = doc.errors.map((e) => (e.message.split('\n')[0] ?? e.message).replace(/:$/, ''));
  if (errors.length === 0) {
    try {
      const value: unknown = doc.toJS({ maxAliasCount: 100 });
      const odd = nonPlainValue(value);
      if (odd === null) return value;
      errors.push(odd);
    } catch (err) {
      errors.push(err instanceof Error ? err.message : String(err));
    }
  }
  // The parser quotes the offending scalars (a stream URL with its password, say): redact them, and
  // list a few errors only (one broken line can cascade into one error per later token).
  const shown = errors.slice(0, MAX_YAML_ERRORS_SHOWN).map(redactUrl);
  if (errors.length > shown.length) shown.push(`... and ${errors.length - shown.length} more`);
  throw new SegdError('SEGD_CONFIG_UNREADABLE', `config file ${source}: not valid YAML: ${shown.join('; ')}`, shown);
}

const MAX_YAML_ERRORS_SHOWN = 5;

const HAS_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/** A plain relative path (no scheme) is a file relative to the config's directory. */
export function resolveStreamUrl(url: string, baseDir: string): string {
  return HAS_SCHEME.test(url) || isAbsolute(url) ? url : resolve(baseDir, url);
}

/** The bundled sample clips (the package's config/samples/), always allowed as file streams. */
export const BUNDLED_SAMPLES_DIR = resolve(fileURLToPath(new URL('../../../config/samples/', import.meta.url)));

/**
 * The directories file streams may be read from: the config file's own directory, the bundled
 * samples, and `sources.allowedDirs` (relative ones resolve against `baseDir`).
 */
export function allowedSourceDirs(baseDir: string, extra: readonly string[]): string[] {
  return [baseDir, BUNDLED_SAMPLES_DIR, ...extra.map((d) => resolve(baseDir, d))];
}

function rawAllowedDirs(raw: unknown): string[] {
  const sources = isRecord(raw) ? raw['sources'] : undefined;
  const dirs = isRecord(sources) ? sources['allowedDirs'] : undefined;
  return Array.isArray(dirs) ? dirs.filter((d): d is string => typeof d === 'string' && d !== '') : [];
}

/**
 * Checks the schema cannot express: unique ids, URLs the sources accept, files that exist.
 * Runs on unvalidated data (so these problems are reported together with schema violations).
 */
function checkStreams(raw: unknown, baseDir: string): string[] {
  const streams = isRecord(raw) ? raw['streams'] : undefined;
  if (!Array.isArray(streams)) return [];
  const allowed = allowedSourceDirs(baseDir, rawAllowedDirs(raw));
  const problems: string[] = [];
  const firstIndexOfId = new Map<string, number>();
  streams.forEach((s: unknown, i: number) => {
    if (!isRecord(s)) return;
    const id = s['id'];
    if (typeof id === 'string') {
      const first = firstIndexOfId.get(id);
      if (first === undefined) firstIndexOfId.set(id, i);
      else problems.push(`streams[${i}].id: expected a unique id, "${id}" is already used by streams[${first}]`);
    }
    problems.push(...zoneProblems(typeof id === 'string' ? id : `#${i}`, s['zones'], `streams[${i}]`));
    const problem = checkStreamUrl(s['url'], baseDir, `streams[${i}].url`, allowed);
    if (problem !== null) problems.push(problem);
  });
  return problems;
}

/**
 * A schema violation inside a zone names its stream and zone too, so the line says which camera's
 * which zone is wrong: `streams[0].zones[1].threshold (stream "cam1", zone "door"): expected …`.
 */
function nameZone(line: string, raw: unknown): string {
  const m = /^streams\[(\d+)\]\.zones\[(\d+)\]([^:]*): /.exec(line);
  if (m === null || !isRecord(raw) || !Array.isArray(raw['streams'])) return line;
  const stream: unknown = raw['streams'][Number(m[1])];
  const zones = isRecord(stream) ? stream['zones'] : undefined;
  const zone: unknown = Array.isArray(zones) ? zones[Number(m[2])] : undefined;
  const streamId = isRecord(stream) && typeof stream['id'] === 'string' ? stream['id'] : `#${m[1]}`;
  const zoneName = isRecord(zone) && typeof zone['name'] === 'string' ? zone['name'] : `#${m[2]}`;
  const head = `streams[${m[1]}].zones[${m[2]}]${m[3]}`;
  return `${head} (stream "${streamId}", zone "${zoneName}"): ${line.slice(m[0].length)}`;
}

/**
 * `model.tensorrt` (fp16, engineCacheDir) was applied through ORT_TENSORRT_* variables, which the
 * TensorRT provider never reads under onnxruntime-node (pipeline/engine/tensorrt-env.ts): refused
 * with that reason rather than accepted and ignored. Taken out of `raw` so the schema does not
 * report it a second time as an unknown key.
 */
function removedKeys(raw: unknown): string[] {
  const model = isRecord(raw) ? raw['model'] : undefined;
  if (!isRecord(model) || !('tensorrt' in model)) return [];
  delete model['tensorrt'];
  return [
    'model.tensorrt: no longer accepted: it cannot take effect (onnxruntime-node gives the TensorRT provider a device id only, ' +
      'and the provider ignores ORT_TENSORRT_* variables under those options); remove it, and for half precision serve an fp16 model ' +
      '(segd_train fp16 --onnx MODEL.onnx; docs/running.md, "TensorRT")',
  ];
}

/** model.engine triton needs model.triton; the probe range must be ordered; TLS files only with grpcs:// or https://. */
function checkTriton(raw: unknown): string[] {
  const model = isRecord(raw) ? raw['model'] : undefined;
  if (!isRecord(model)) return [];
  const triton = model['triton'];
  if (model['engine'] === 'triton' && !isRecord(triton)) return ['model.triton: expected a mapping with at least url and model (model.engine is triton)'];
  if (!isRecord(triton)) return [];
  const problems: string[] = [];
  if (model['engine'] !== 'triton') problems.push(`model.triton: set, but model.engine is ${JSON.stringify(model['engine'] ?? 'local')}; expected model.engine: triton (or no model.triton)`);
  const rc = triton['reconnect'];
  if (isRecord(rc) && typeof rc['minMs'] === 'number' && typeof rc['maxMs'] === 'number' && rc['minMs'] > rc['maxMs']) {
    problems.push(`model.triton.reconnect.minMs: expected at most model.triton.reconnect.maxMs (${rc['maxMs']}), got ${rc['minMs']}`);
  }
  const tls = triton['tls'];
  const anyTls = isRecord(tls) && ['ca', 'cert', 'key'].some((k) => tls[k] !== null && tls[k] !== undefined);
  const plain = typeof triton['url'] === 'string' ? /^(grpc|http):\/\//.exec(triton['url']) : null;
  if (anyTls && plain !== null) {
    problems.push(`model.triton.tls: set, but model.triton.url is ${plain[0]} (plaintext); expected ${plain[1]}s:// for TLS`);
  }
  if (isRecord(tls) && (tls['cert'] === null || tls['cert'] === undefined) !== (tls['key'] === null || tls['key'] === undefined)) {
    problems.push('model.triton.tls.cert and model.triton.tls.key: expected both (a client certificate and its key) or neither');
  }
  return problems;
}

/** mqtt checks the schema cannot express: the reconnect range, one password source, TLS files that exist. */
function checkMqtt(raw: unknown): string[] {
  const mqtt = isRecord(raw) ? raw['mqtt'] : undefined;
  if (!isRecord(mqtt)) return [];
  const problems: string[] = [];
  const rc = mqtt['reconnect'];
  if (isRecord(rc) && typeof rc['minMs'] === 'number' && typeof rc['maxMs'] === 'number' && rc['minMs'] > rc['maxMs']) {
    problems.push(`mqtt.reconnect.minMs: expected at most mqtt.reconnect.maxMs (${rc['maxMs']}), got ${rc['minMs']}`);
  }
  if (mqtt['password'] !== undefined && mqtt['password'] !== null && mqtt['passwordFile'] !== undefined && mqtt['passwordFile'] !== null) {
    problems.push('mqtt.password and mqtt.passwordFile: expected at most one of them');
  }
  const tls = mqtt['tls'];
  if (isRecord(tls) && (tls['cert'] === null || tls['cert'] === undefined) !== (tls['key'] === null || tls['key'] === undefined)) {
    problems.push('mqtt.tls.cert and mqtt.tls.key: expected both (a client certificate and its key) or neither');
  }
  return problems;
}

/** kafka checks the schema cannot express: idempotence needs acks all, one password source, ranges, TLS pairs. */
function checkKafka(raw: unknown): string[] {
  const kafka = isRecord(raw) ? raw['kafka'] : undefined;
  if (!isRecord(kafka)) return [];
  const problems: string[] = [];
  const idempotent = kafka['idempotent'] ?? true;
  const acks = kafka['acks'] ?? 'all';
  if (idempotent === true && acks !== 'all') {
    problems.push(`kafka.acks: expected 'all' while kafka.idempotent is true (the idempotent producer needs every in-sync replica's acknowledgement), got '${String(acks)}'`);
  }
  const rc = kafka['reconnect'];
  if (isRecord(rc) && typeof rc['minMs'] === 'number' && typeof rc['maxMs'] === 'number' && rc['minMs'] > rc['maxMs']) {
    problems.push(`kafka.reconnect.minMs: expected at most kafka.reconnect.maxMs (${rc['maxMs']}), got ${rc['minMs']}`);
  }
  const sasl = kafka['sasl'];
  if (isRecord(sasl) && sasl['password'] !== undefined && sasl['password'] !== null && sasl['passwordFile'] !== undefined && sasl['passwordFile'] !== null) {
    problems.push('kafka.sasl.password and kafka.sasl.passwordFile: expected at most one of them');
  }
  const tls = kafka['tls'];
  if (isRecord(tls) && (tls['cert'] === null || tls['cert'] === undefined) !== (tls['key'] === null || tls['key'] === undefined)) {
    problems.push('kafka.tls.cert and kafka.tls.key: expected both (a client certificate and its key) or neither');
  }
  return problems;
}

/**
 * The check of one stream URL the schema cannot express (a scheme the sources accept; for a file,
 * a regular file under one of `allowedDirs`, symlinks resolved), as one problem line naming
 * `field`; null when fine or not a string (the schema reports that). A path outside the allowed
 * directories is refused before its existence is looked at, so the answer reveals nothing about it.
 */
export function checkStreamUrl(url: unknown, baseDir: string, field: string, allowedDirs: readonly string[]): string | null {
  if (typeof url !== 'string' || url === '') return null;
  try {
    const parsed = parseSourceUrl(resolveStreamUrl(url, baseDir), field);
    if (parsed.kind !== 'file') return null;
    // For files, `input` is `file:<absolute path>` (ffmpeg's file protocol).
    const path = parsed.input.replace(/^file:/, '');
    const outside = `${field}: expected a video file under one of the allowed directories (${allowedDirs.join(', ')}; sources.allowedDirs), got ${redactUrl(path)}`;
    if (!isUnder(path, allowedDirs)) return outside;
    if (!existsSync(path)) return `${field}: expected an existing video file, ${redactUrl(path)} does not exist`;
    const real = realpathSync(path);
    if (!isUnder(real, allowedDirs.map(realOrSelf))) return outside; // a symlink out of an allowed directory
    if (!statSync(real).isFile()) return `${field}: expected a regular video file, ${redactUrl(path)} is a device, FIFO, socket or directory`;
    return null;
  } catch (err) {
    // parseSourceUrl's message starts with the field and names the redacted URL and what was expected.
    const msg = err instanceof Error ? err.message : String(err);
    return msg.startsWith(`${field}: `) ? msg : `${field}: ${redactUrl(msg)}`;
  }
}

function isUnder(path: string, dirs: readonly string[]): boolean {
  // /proc and /sys are never video files, whatever the allowed directories say.
  if (path === '/proc' || path.startsWith('/proc/') || path === '/sys' || path.startsWith('/sys/')) return false;
  return dirs.some((d) => {
    const dir = d.endsWith(sep) ? d : d + sep;
    return path.startsWith(dir);
  });
}

function realOrSelf(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return dir;
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function resolvePaths(cfg: SegdConfig, baseDir: string): SegdConfig {
  const abs = (p: string): string => resolve(baseDir, p);
  const absOrNull = (p: string | null): string | null => (p === null ? null : abs(p));
  const ffmpegPath = cfg.ffmpeg.path;
  return {
    ...cfg,
    server: { ...cfg.server, tokenFile: absOrNull(cfg.server.tokenFile) },
    // A bare command name ("ffmpeg") is looked up on PATH; anything with a slash is a path.
    ffmpeg: { ...cfg.ffmpeg, path: ffmpegPath !== null && ffmpegPath.includes('/') ? abs(ffmpegPath) : ffmpegPath },
    model: {
      ...cfg.model,
      path: abs(cfg.model.path),
      card: absOrNull(cfg.model.card),
      triton:
        cfg.model.triton === null
          ? null
          : { ...cfg.model.triton, tls: { ca: absOrNull(cfg.model.triton.tls.ca), cert: absOrNull(cfg.model.triton.tls.cert), key: absOrNull(cfg.model.triton.tls.key) } },
    },
    streams: cfg.streams.map((s): StreamConfig => ({ ...s, url: resolveStreamUrl(s.url, baseDir) })),
    sources: { ...cfg.sources, allowedDirs: cfg.sources.allowedDirs.map(abs) },
    mqtt:
      cfg.mqtt === null
        ? null
        : {
            ...cfg.mqtt,
            passwordFile: absOrNull(cfg.mqtt.passwordFile),
            tls: { ...cfg.mqtt.tls, ca: absOrNull(cfg.mqtt.tls.ca), cert: absOrNull(cfg.mqtt.tls.cert), key: absOrNull(cfg.mqtt.tls.key) },
          },
    kafka:
      cfg.kafka === null
        ? null
        : {
            ...cfg.kafka,
            sasl: cfg.kafka.sasl === null ? null : { ...cfg.kafka.sasl, passwordFile: absOrNull(cfg.kafka.sasl.passwordFile) },
            tls: { ...cfg.kafka.tls, ca: absOrNull(cfg.kafka.tls.ca), cert: absOrNull(cfg.kafka.tls.cert), key: absOrNull(cfg.kafka.tls.key) },
          },
  };
}
