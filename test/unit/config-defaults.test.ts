// config/default.yaml (what `segd run` reads without --config) validates against the schema and is
// exactly the schema's defaults, every key spelled out: the defaults live once, in
// daemon/config/schema.ts, and the file shown to users cannot drift from them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { loadConfigFile, parseConfigText } from '../../daemon/config/load.js';
import { REPO_ROOT } from '../helpers/paths.js';

const FILE = join(REPO_ROOT, 'config', 'default.yaml');

/** `a.b.c` for every leaf (arrays are leaves) of a parsed YAML/JSON object. */
function leafPaths(value: unknown, prefix = ''): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [prefix];
  return Object.entries(value).flatMap(([k, v]) => leafPaths(v, prefix === '' ? k : `${prefix}.${k}`));
}

describe('config/default.yaml', () => {
  it('validates and equals the schema defaults (with its one stream)', () => {
    const cfg = loadConfigFile(FILE);
    // The same streams and nothing else, so every other value comes from the schema. Relative
    // defaults (model.path) resolve against the repository root: config/../models is models/.
    const fromDefaults = parseConfigText(stringify({ streams: cfg.streams }), { baseDir: REPO_ROOT, source: 'schema defaults' });
    assert.deepEqual(cfg, fromDefaults);
  });

  it('spells out every key that has a default', () => {
    const raw = parse(readFileSync(FILE, 'utf8')) as Record<string, unknown>;
    const defaults = parseConfigText('streams: [{ id: a, url: rtsp://h/x }]', { baseDir: REPO_ROOT, source: 'schema defaults' });
    const withoutStreams = (o: object): string[] => leafPaths({ ...o, streams: undefined }).filter((p) => p !== 'streams').sort();
    assert.deepEqual(withoutStreams(raw), withoutStreams(defaults));
  });
});
