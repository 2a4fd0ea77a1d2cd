// docs/grafana/segd.json against a live daemon: every metric the dashboard queries is in a real
// /metrics scrape, and every label it filters, groups or templates by is on that metric. The stream
// has a zone, so the zone series exist; MQTT's series exist with MQTT off (connected 0, counters 0).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTempDir, startReadyDaemon, testConfig, type DaemonProcess } from '../helpers/daemon.js';
import { E2eClient, scrape } from '../helpers/e2e-client.js';
import { REPO_ROOT, SAMPLE_CLIP_VAL } from '../helpers/paths.js';

const DASHBOARD = join(REPO_ROOT, 'docs', 'grafana', 'segd.json');

interface Target {
  readonly expr?: string;
}
interface Panel {
  readonly title: string;
  readonly targets?: readonly Target[];
}
interface Variable {
  readonly name: string;
  readonly query?: string | { readonly query?: string };
}
interface Dashboard {
  readonly uid: string;
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: readonly Variable[] };
}

/** Every PromQL text in the dashboard: panel targets and query variables. */
function queries(d: Dashboard): string[] {
  const out: string[] = [];
  for (const p of d.panels) for (const t of p.targets ?? []) if (t.expr) out.push(t.expr);
  for (const v of d.templating.list) {
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    if (q?.startsWith('label_values(')) out.push(q);
  }
  return out;
}

const METRIC = /\b(?:segd|process|nodejs)_[a-z0-9_]+\b/g;

/** metric → the labels one query uses on it: {matchers}, by/without (...) of the enclosing aggregation, label_values(m, l). */
function usage(expr: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const metrics = [...expr.matchAll(METRIC)].map((m) => m[0]);
  const labels = new Set<string>();
  for (const m of expr.matchAll(/\{([^}]*)\}/g)) for (const l of (m[1] as string).matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g)) labels.add(l[1] as string);
  for (const m of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) for (const l of (m[1] as string).split(',')) if (l.trim()) labels.add(l.trim());
  const lv = /^label_values\(\s*([a-z0-9_]+)\s*,\s*([a-zA-Z_]\w*)\s*\)$/.exec(expr);
  if (lv) labels.add(lv[2] as string);
  for (const metric of metrics) out.set(metric, new Set(labels));
  return out;
}

describe('e2e: the Grafana dashboard queries what a live daemon exports', { timeout: 120000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let daemon: DaemonProcess | null = null;
  let client: E2eClient | null = null;

  before(async () => {
    tmp = makeTempDir('segd-e2e-grafana-');
    const zones = [{ name: 'lower-half', polygon: [[0, 0.5], [1, 0.5], [1, 1], [0, 1]], classes: ['road', 'car'] }];
    daemon = await startReadyDaemon(tmp.dir, testConfig([{ id: 'cam', url: SAMPLE_CLIP_VAL, zones }]));
    client = await E2eClient.connect(daemon.wsUrl);
    await client.waitUntil(() => (client as E2eClient).count('cam') >= 2, '2 masks', 60000);
  });
  after(async () => {
    await client?.terminate();
    await daemon?.stop();
    tmp.cleanup();
  });

  it('every metric and label in docs/grafana/segd.json exists in /metrics', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
    assert.equal(dashboard.uid, 'segd');
    const text = await scrape((daemon as DaemonProcess).httpUrl);
    // Series name → label names seen on it in the scrape.
    const seen = new Map<string, Set<string>>();
    for (const line of text.split('\n')) {
      const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? /.exec(line);
      if (!m) continue;
      const labels = seen.get(m[1] as string) ?? new Set<string>();
      for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)="/g)) labels.add(l[1] as string);
      seen.set(m[1] as string, labels);
    }
    const all = queries(dashboard);
    assert.ok(all.length >= 10, `only ${all.length} queries found`);
    const missing: string[] = [];
    const used = new Set<string>();
    for (const expr of all) {
      for (const [metric, labels] of usage(expr)) {
        used.add(metric);
        const have = seen.get(metric);
        if (have === undefined) {
          missing.push(`${metric} (in ${expr})`);
          continue;
        }
        for (const l of labels) if (!have.has(l)) missing.push(`${metric} has no label ${l} (in ${expr})`);
      }
    }
    assert.deepEqual(missing, []);
    // What the dashboard is for: throughput, drops, stages, end-to-end latency, model/provider, restarts,
    // zones (state and occupancy), class areas, MQTT.
    for (const m of [
      'segd_frames_published_total',
      'segd_frames_dropped_total',
      'segd_stage_latency_seconds_bucket',
      'segd_capture_to_send_seconds_bucket',
      'segd_model_info',
      'segd_stream_restarts_total',
      'segd_zone_occupied',
      'segd_zone_occupancy_ratio',
      'segd_class_area_ratio',
      'segd_mqtt_connected',
      'segd_mqtt_messages_total',
      'segd_mqtt_dropped_total',
    ]) {
      assert.ok(used.has(m), `dashboard does not query ${m}`);
    }
    // The zone state is a 0/1 gauge.
    const occupied = /^segd_zone_occupied\{stream="cam",zone="lower-half"\} (\S+)$/m.exec(text);
    assert.ok(occupied !== null && ['0', '1'].includes(occupied[1] as string), `segd_zone_occupied: ${occupied?.[0] ?? 'absent'}`);
  });
});
