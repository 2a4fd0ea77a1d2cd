/**
 * `check-config` also checks the zones' class names against the model card (the daemon checks them
 * again at start, analysis/frame-analysis.ts): a typo in `classes` is a config error, found before
 * the daemon runs. A card that cannot be read is the model's problem, reported at start.
 */
import { parseBoundedJson } from '../../pipeline/core/bounded-json.js';
import { SegdError } from '../../pipeline/core/errors.js';
import { MAX_CARD_FILE_BYTES, readRegularFile } from '../../pipeline/core/read-file.js';
import type { SegdConfig } from './schema.js';

function cardClassNames(cfg: SegdConfig): string[] | null {
  const path = cfg.model.card ?? cfg.model.path.replace(/\.[^./]*$/, '') + '.json';
  try {
    // Regular files only, size-capped (a card on /dev/zero is the model's problem, reported at start).
    const json = parseBoundedJson(readRegularFile(path, MAX_CARD_FILE_BYTES).toString('utf8'));
    if (!json.ok) return null;
    const card = json.value as { classes?: { name?: unknown }[] };
    const names = (card.classes ?? []).map((c) => c.name);
    return names.every((n): n is string => typeof n === 'string') ? names : null;
  } catch {
    return null;
  }
}

/** Throws SEGD_CONFIG_INVALID naming the stream, the zone and the field for every unknown class. */
export function checkZoneClasses(cfg: SegdConfig): void {
  const names = cardClassNames(cfg);
  if (names === null) return;
  const known = new Set(names);
  const problems: string[] = [];
  cfg.streams.forEach((s, i) =>
    s.zones.forEach((z, j) =>
      z.classes.forEach((c, k) => {
        if (!known.has(c)) {
          problems.push(
            `streams[${i}].zones[${j}].classes[${k}] (stream "${s.id}", zone "${z.name}"): expected one of the model's classes (${names.join(', ')}), got ${JSON.stringify(c)}`,
          );
        }
      }),
    ),
  );
  if (problems.length > 0) {
    throw new SegdError('SEGD_CONFIG_INVALID', `zone classes: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n  ${problems.join('\n  ')}`, problems);
  }
}
