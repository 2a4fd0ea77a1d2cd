/**
 * Turns ajv's errors into one line per violation that names the field (`streams[2].url`) and
 * says what was expected and what was found, so a user can fix every mistake in one pass.
 */
import type { ErrorObject } from 'ajv';

/** `/streams/2/url` → `streams[2].url`; the root is `(top level)`. */
export function fieldPath(instancePath: string, child?: string): string {
  const parts = instancePath === '' ? [] : instancePath.slice(1).split('/').map(unescapePointer);
  if (child !== undefined) parts.push(child);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  return out === '' ? '(top level)' : out;
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** A short description of a found value for "got …". Long strings are cut; URLs never appear here. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  return String(v);
}

const TYPE_WORDS: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'true or false',
  null: 'null',
};

function typeWords(t: unknown): string {
  const list = Array.isArray(t) ? t : String(t).split(',');
  return list.map((x: unknown) => TYPE_WORDS[String(x)] ?? String(x)).join(' or ');
}

/** Needs ajv's `verbose: true` (for `data` and `parentSchema`). */
export function formatAjvError(e: ErrorObject): string {
  const path = fieldPath(e.instancePath);
  const got = `got ${describeValue(e.data)}`;
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(p['additionalProperty']);
      const props = e.parentSchema?.['properties'] as Record<string, unknown> | undefined;
      const allowed = props ? Object.keys(props).join(', ') : '';
      return `${fieldPath(e.instancePath, key)}: unknown key (expected one of: ${allowed})`;
    }
    case 'required':
      return `${fieldPath(e.instancePath, String(p['missingProperty']))}: required key is missing`;
    case 'type': {
      const nullable = e.parentSchema?.['nullable'] === true ? ' or null' : '';
      return `${path}: expected ${typeWords(p['type'])}${nullable}, ${got}`;
    }
    case 'enum': {
      const allowed = (p['allowedValues'] as unknown[]).map((x) => JSON.stringify(x)).join(', ');
      return `${path}: expected one of ${allowed}, ${got}`;
    }
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `${path}: expected a number ${String(p['comparison'])} ${String(p['limit'])}, ${got}`;
    case 'pattern':
      return `${path}: expected a string matching ${String(p['pattern'])}, ${got}`;
    case 'minLength':
      return `${path}: expected a non-empty string, ${got}`;
    case 'minItems':
      return `${path}: expected at least ${String(p['limit'])} item(s), got ${countOf(e.data)}`;
    case 'maxItems':
      return `${path}: expected at most ${String(p['limit'])} item(s), got ${countOf(e.data)}`;
    case 'uniqueItems':
      return `${path}: expected no duplicates, items ${String(p['j'])} and ${String(p['i'])} are equal`;
    default:
      return `${path}: ${e.message ?? e.keyword}`;
  }
}

function countOf(v: unknown): string {
  return Array.isArray(v) ? String(v.length) : describeValue(v);
}
