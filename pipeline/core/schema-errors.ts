/**
 * ajv's errors as one line per violation that names the field (`streams[2].url`) and says what was
 * expected and what was found, so a user can fix every mistake in one pass. Shared by every
 * schema-validated input: the config file (YAML), model cards and WebSocket control messages
 * (JSON). Needs ajv's `verbose: true` (errors then carry `data` and `parentSchema`).
 */
import type { ErrorObject } from 'ajv';

/** YAML speaks of mappings and lists, JSON of objects and arrays. */
export type Vocabulary = 'yaml' | 'json';

export interface FormatOptions {
  /** Default 'yaml'. */
  readonly vocabulary?: Vocabulary;
  /**
   * Report an error inside an array of scalars on the array, naming the item (`color: item 2:
   * expected …`): for values that are one thing to the reader, like an [r, g, b] colour.
   */
  readonly scalarItemsOnArray?: boolean;
}

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

const WORDS: Readonly<Record<Vocabulary, { readonly object: string; readonly array: string }>> = {
  yaml: { object: 'a mapping', array: 'a list' },
  json: { object: 'an object', array: 'an array' },
};

/** A short description of a found value for "got …". Long strings are cut; URLs never appear here. */
export function describeValue(v: unknown, vocabulary: Vocabulary = 'yaml'): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return WORDS[vocabulary].array;
  if (typeof v === 'object') return WORDS[vocabulary].object;
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  return String(v);
}

function typeWords(t: unknown, vocabulary: Vocabulary): string {
  const words: Record<string, string> = {
    object: WORDS[vocabulary].object,
    array: WORDS[vocabulary].array,
    string: 'a string',
    integer: 'an integer',
    number: 'a number',
    boolean: 'true or false',
    null: 'null',
  };
  const list = Array.isArray(t) ? t : String(t).split(',');
  return list.map((x: unknown) => words[String(x)] ?? String(x)).join(' or ');
}

/** What a violation expected, without the field (`an integer`, `a number <= 255`, `"frames"`); null for other keywords. */
export function expectation(e: ErrorObject, vocabulary: Vocabulary = 'yaml'): string | null {
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'type':
      return `${typeWords(p['type'], vocabulary)}${e.parentSchema?.['nullable'] === true ? ' or null' : ''}`;
    case 'enum':
      return `one of ${(p['allowedValues'] as unknown[]).map((x) => JSON.stringify(x)).join(', ')}`;
    case 'const':
      return JSON.stringify(p['allowedValue']);
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `a number ${String(p['comparison'])} ${String(p['limit'])}`;
    case 'pattern':
      return `a string matching ${String(p['pattern'])}`;
    case 'minLength':
      return 'a non-empty string';
    case 'minItems':
      return `at least ${String(p['limit'])} item(s)`;
    case 'maxItems':
      return `at most ${String(p['limit'])} item(s)`;
    case 'uniqueItems':
      return 'no duplicates';
    default:
      return null;
  }
}

/** One line for one violation. */
export function formatAjvError(e: ErrorObject, options: FormatOptions = {}): string {
  const vocabulary = options.vocabulary ?? 'yaml';
  const p = e.params as Record<string, unknown>;
  let path = fieldPath(e.instancePath);
  if (options.scalarItemsOnArray === true && isScalarSchema(e.parentSchema)) {
    const item = /^(.*)\/(\d+)$/.exec(e.instancePath);
    if (item) path = `${fieldPath(item[1] ?? '')}: item ${item[2]}`;
  }
  const expected = expectation(e, vocabulary);
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(p['additionalProperty']);
      const props = e.parentSchema?.['properties'] as Record<string, unknown> | undefined;
      const patterns = e.parentSchema?.['patternProperties'] as Record<string, unknown> | undefined;
      // A free-form mapping (names matching a pattern, e.g. header names): say what a name must look like.
      if (props === undefined && patterns !== undefined) return `${fieldPath(e.instancePath, key)}: invalid name (expected a name matching ${Object.keys(patterns).join(' or ')})`;
      const allowed = props ? Object.keys(props).join(', ') : '';
      return `${fieldPath(e.instancePath, key)}: unknown key (expected one of: ${allowed})`;
    }
    case 'required':
      return `${fieldPath(e.instancePath, String(p['missingProperty']))}: required key is missing`;
    case 'minItems':
    case 'maxItems':
      return `${path}: expected ${expected}, got ${Array.isArray(e.data) ? String(e.data.length) : describeValue(e.data, vocabulary)}`;
    case 'uniqueItems':
      return `${path}: expected no duplicates, items ${String(p['j'])} and ${String(p['i'])} are equal`;
    default:
      return expected === null ? `${path}: ${e.message ?? e.keyword}` : `${path}: expected ${expected}, got ${describeValue(e.data, vocabulary)}`;
  }
}

function isScalarSchema(schema: unknown): boolean {
  if (typeof schema !== 'object' || schema === null) return false;
  const type = (schema as Record<string, unknown>)['type'];
  const types = Array.isArray(type) ? type : [type];
  return types.length > 0 && types.every((t) => t === 'string' || t === 'number' || t === 'integer' || t === 'boolean' || t === 'null');
}
