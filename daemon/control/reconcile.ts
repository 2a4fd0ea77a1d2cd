/**
 * What a config reload changes: the streams to add, change (restart) and remove, and the settings
 * that differ but only apply at start-up. Pure: config-reload.ts applies the plan.
 */
import { isDeepStrictEqual } from 'node:util';
import type { StreamConfig } from '../../pipeline/core/stream-config.js';
import type { SegdConfig } from '../config/schema.js';
import type { ModelChoice } from './model-swap.js';

export interface ReloadPlan {
  readonly add: readonly StreamConfig[];
  /** Streams whose settings differ (their new settings). */
  readonly change: readonly StreamConfig[];
  readonly remove: readonly string[];
  /** The model to swap to, null when path and card are unchanged. */
  readonly model: ModelChoice | null;
  /** Keys that differ but take effect only at the next start (`batching.maxBatch`, `server.port`…). */
  readonly needsRestart: readonly string[];
}

/** Top-level sections applied live: streams by the registry, model.path/card by a swap. */
const LIVE_MODEL_KEYS = new Set(['path', 'card']);

export function planReload(current: { readonly streams: readonly StreamConfig[]; readonly model: ModelChoice; readonly config: SegdConfig }, next: SegdConfig): ReloadPlan {
  const before = new Map(current.streams.map((s) => [s.id, s]));
  const after = new Set(next.streams.map((s) => s.id));
  const add: StreamConfig[] = [];
  const change: StreamConfig[] = [];
  for (const s of next.streams) {
    const old = before.get(s.id);
    if (old === undefined) add.push(s);
    else if (!isDeepStrictEqual(old, s)) change.push(s);
  }
  const remove = current.streams.filter((s) => !after.has(s.id)).map((s) => s.id);
  const modelChanged = next.model.path !== current.model.path || next.model.card !== current.model.card;
  return {
    add,
    change,
    remove,
    model: modelChanged ? { path: next.model.path, card: next.model.card } : null,
    needsRestart: differingKeys(current.config, next),
  };
}

/** `section.key` for every setting outside streams and model.path/card that differs. */
function differingKeys(a: SegdConfig, b: SegdConfig): string[] {
  const out: string[] = [];
  for (const section of Object.keys(b) as (keyof SegdConfig)[]) {
    if (section === 'streams') continue;
    const x = a[section] as Record<string, unknown> | null;
    const y = b[section] as Record<string, unknown> | null;
    // A nullable section (mqtt: null = off) is compared whole.
    if (x === null || y === null) {
      if (!isDeepStrictEqual(x, y)) out.push(section);
      continue;
    }
    for (const key of Object.keys(y)) {
      if (section === 'model' && LIVE_MODEL_KEYS.has(key)) continue;
      if (!isDeepStrictEqual(x[key], y[key])) out.push(`${section}.${key}`);
    }
  }
  return out;
}
