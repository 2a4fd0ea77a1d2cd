// The MQTT publisher against a real mosquitto per test (test/helpers/mosquitto.ts): availability and
// Last Will, retained zone states for a late subscriber, stats equal to the mask's own histogram,
// events, masks round trip with expiry, a broker down at start and killed mid-run, the bounded
// offline queue, wrong credentials and TLS with a throw-away CA; no retained zone state before the
// first frame; a zone removed or renamed, or its stream removed, sends `exit` for an occupied zone
// and clears its retained state.
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import type { Logger } from 'pino';
import { StreamAnalyzer, type FrameAnalysis } from '../../pipeline/analysis/frame-analysis.js';
import type { MaskResult } from '../../pipeline/core/mask-result.js';
import type { MqttDropReason, MqttMessageKind } from '../../pipeline/core/reasons.js';
import { StreamAnalyses } from '../../pipeline/analysis/stream-analyses.js';
import { MqttPublisher, mqttStreamInfo, type MqttPublisherOptions } from '../../pipeline/publish/mqtt-publisher.js';
import { decodeMaskHeader } from '../helpers/mask-header.js';
import { makeTempDir } from '../helpers/daemon.js';
import { makeTestCa, startBroker, type Broker } from '../helpers/mosquitto.js';
import { Subscriber } from '../helpers/mqtt-subscriber.js';
import { memoryLogger, waitFor } from '../helpers/source-harness.js';

const W = 40;
const H = 30;
const CLASSES = ['road', 'sky'];
const TOP = { name: 'top', polygon: [[0, 0], [1, 0], [1, 0.5], [0, 0.5]], classes: ['sky'], threshold: 0.5, hysteresis: 0.1, minDurationMs: 0 };

/** Top half `top`, bottom half road; `seq` also sets the capture time (100 ms per frame). */
function frame(seq: number, top: 0 | 1): MaskResult {
  const mask = new Uint8Array(W * H);
  mask.fill(top, 0, (W * H) / 2);
  return { streamId: 'cam1', seq, ptsMs: seq * 100, captureTimeMs: 1_700_000_000_000 + seq * 100, decodedAtNs: 0n, queuedAtNs: 0n, dequeuedAtNs: 0n, inferStartNs: 0n, inferEndNs: 0n, width: W, height: H, mask };
}

class Counts {
  readonly sent = new Map<MqttMessageKind, number>();
  readonly dropped = new Map<MqttDropReason, number>();
  connected = false;
  hooks = {
    onConnected: (c: boolean) => (this.connected = c),
    onSent: (k: MqttMessageKind) => this.sent.set(k, (this.sent.get(k) ?? 0) + 1),
    onDropped: (r: MqttDropReason, n: number) => this.dropped.set(r, (this.dropped.get(r) ?? 0) + n),
  };
}

function publisher(url: string, logger: Logger, analyzer: StreamAnalyzer, counts: Counts, over: Partial<MqttPublisherOptions> = {}): MqttPublisher {
  return new MqttPublisher({
    url,
    clientId: `segd-test-${process.pid}-${Math.random().toString(36).slice(2)}`,
    node: 'n1',
    username: null,
    password: null,
    tls: { rejectUnauthorized: true },
    topicPrefix: 'segd',
    statsIntervalMs: 0,
    masks: { enabled: true, intervalMs: 0, expirySeconds: 30 },
    offlineQueue: 100,
    keepaliveSeconds: 5,
    connectTimeoutMs: 5000,
    reconnect: { minMs: 50, maxMs: 300 },
    modelId: 'test-model',
    classNames: CLASSES,
    streams: [{ id: 'cam1', zoneNames: ['top'], zoneStates: () => analyzer.states() }],
    homeAssistant: null,
    snapshots: false,
    logger,
    hooks: counts.hooks,
    ...over,
  });
}

describe('mqtt publisher (real mosquitto)', () => {
  let tmp: ReturnType<typeof makeTempDir>;
  const brokers: Broker[] = [];
  const closers: (() => Promise<void>)[] = [];
  before(() => (tmp = makeTempDir('segd-mqtt-')));
  after(async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    for (const b of brokers) await b.kill().catch(() => undefined);
    tmp.cleanup();
  });
  const broker = async (opts: Omit<Parameters<typeof startBroker>[0], 'dir'> = {}): Promise<Broker> => {
    const dir = makeTempDir('segd-mosq-');
    closers.push(async () => dir.cleanup());
    const b = await startBroker({ dir: dir.dir, ...opts });
    brokers.push(b);
    return b;
  };

  it('Home Assistant discovery: the retained configs on connect; a model swap clears a listed class the new model lacks; a removed zone and stream clear theirs', async () => {
    const b = await broker();
    const analyses = new StreamAnalyses({ width: W, height: H, classNames: CLASSES });
    const analyzer = analyses.set({ id: 'cam1', zones: [TOP] }).analyzer as StreamAnalyzer;
    const { logger } = memoryLogger('info');
    const pub = publisher(b.url, logger, analyzer, new Counts(), { homeAssistant: { prefix: 'homeassistant', classes: ['sky'], swVersion: '0.0.0' }, snapshots: true });
    closers.push(() => pub.close());
    // A live subscriber sees each clear arrive (so the broker has it, and the configs sent before it on the same connection).
    const live = await Subscriber.connect(b.url, ['homeassistant/#']);
    closers.push(() => live.close());
    const cleared = (topic: string): Promise<void> => live.waitFor(() => live.on(topic).some((m) => m.payload.length === 0), `the empty config on ${topic}`);
    const held = async (): Promise<string[]> => (await Subscriber.retained(b.url, 'homeassistant/#')).filter((m) => m.payload.length > 0).map((m) => m.topic).sort();
    const cam = (o: string): string => `homeassistant/${o.startsWith('zone') ? (o.endsWith('occupancy') ? 'binary_sensor' : 'sensor') : o === 'snapshot' ? 'camera' : 'sensor'}/segd_n1_cam1/${o}/config`;
    const node = 'homeassistant/binary_sensor/segd_n1/status/config';
    const all = [node, cam('zone_top_occupancy'), cam('zone_top_coverage'), cam('masks_per_second'), cam('class_sky_coverage'), cam('snapshot')].sort();
    await waitFor(() => pub.connectionState === 'connected', 'connected');
    assert.deepEqual(await held(), all);

    pub.onModelChanged({ id: 'm2', card: {}, classNames: ['road', 'sky2'], architecture: 'x', provider: 'cpu' });
    analyses.setModel({ width: W, height: H, classNames: ['road', 'sky2'] });
    const without = all.filter((t) => t !== cam('class_sky_coverage'));
    await cleared(cam('class_sky_coverage'));
    assert.deepEqual(await held(), without, 'the class sensor the new model lacks is gone');
    const models = await Subscriber.retained(b.url, 'homeassistant/#');
    assert.ok(models.filter((m) => m.payload.length > 0).every((m) => (m.json() as { device: { model: string } }).device.model === 'm2'), 'every device names the new model');

    pub.onStreamChanged({ reason: 'changed', streamId: 'cam1', analyzer: new StreamAnalyzer('cam1', W, H, ['road', 'sky2'], []), ended: [], removedZones: ['top'] });
    await cleared(cam('zone_top_coverage'));
    assert.deepEqual(await held(), without.filter((t) => !t.includes('zone_top')), 'the removed zone is gone');
    pub.onStreamChanged({ reason: 'removed', streamId: 'cam1', analyzer: null, ended: [], removedZones: [] });
    await cleared(cam('snapshot'));
    assert.deepEqual(await held(), [node], 'only the node is left');
  });

  it('availability, stats equal to the histogram, events, retained zone states for a late subscriber, masks, offline on close', async () => {
    const b = await broker();
    const analyzer = new StreamAnalyzer('cam1', W, H, CLASSES, [TOP]);
    const counts = new Counts();
    const { logger } = memoryLogger('info');
    const early = await Subscriber.connect(b.url, ['segd/#']);
    closers.push(() => early.close());
    const pub = publisher(b.url, logger, analyzer, counts);
    closers.push(() => pub.close());
    await early.waitFor(() => early.on('segd/nodes/n1/status').some((m) => m.text() === 'online'), 'online');

    const analyses: FrameAnalysis[] = [];
    for (const [seq, top] of [[1, 0], [2, 1], [3, 1], [4, 0]] as const) {
      const a = analyzer.analyze(frame(seq, top));
      analyses.push(a);
      pub.publish(a);
    }
    await early.waitFor(() => early.on('segd/cam1/events').length >= 2 && early.on('segd/cam1/stats').length >= 4 && early.on('segd/cam1/mask').length >= 4, 'events, stats, masks');

    // stats: schema and fractions exactly the mask's own
    const stats = early.on('segd/cam1/stats').map((m) => m.json<{ seq: number; classes: Record<string, number>; zones: Record<string, { ratio: number; occupied: boolean }> }>());
    assert.deepEqual(Object.keys(early.on('segd/cam1/stats')[0]!.json()).sort(), ['captureTimeMs', 'classes', 'height', 'masksPerSecond', 'model', 'node', 'seq', 'stream', 'width', 'zones']);
    for (const s of stats) {
      const mask = frame(s.seq, s.seq === 2 || s.seq === 3 ? 1 : 0).mask;
      const sky = mask.filter((v) => v === 1).length / mask.length;
      assert.deepEqual(s.classes, { road: 1 - sky, sky });
      assert.equal(s.zones['top']?.ratio, s.seq === 2 || s.seq === 3 ? 1 : 0);
    }
    assert.ok(early.on('segd/cam1/stats').every((m) => m.qos === 0 && !m.retain));
    // masks/s on capture time: frames 100 ms apart, stats every frame
    assert.deepEqual(stats.map((x) => (x as unknown as { masksPerSecond: number | null }).masksPerSecond), [null, 10, 10, 10]);

    // events: enter then exit, same id, QoS 1, before/after
    const events = early.on('segd/cam1/events').map((m) => m.json<{ type: string; id: string; before: { occupied: boolean }; after: { occupied: boolean; seq: number } }>());
    assert.deepEqual(events.map((e) => e.type), ['enter', 'exit']);
    assert.equal(events[0]?.id, events[1]?.id);
    assert.deepEqual([events[0]?.before.occupied, events[0]?.after.occupied, events[0]?.after.seq], [false, true, 2]);
    assert.ok(early.on('segd/cam1/events').every((m) => m.qos === 1));

    // masks: the WebSocket message (deflate) with message expiry, back to the exact mask
    for (const m of early.on('segd/cam1/mask')) {
      const h = decodeMaskHeader(m.payload);
      assert.equal(h.encoding, 'deflate');
      assert.equal(h.modelId, 'test-model');
      assert.deepEqual(inflateSync(m.payload.subarray(h.headerLength)), Buffer.from(frame(h.seq, h.seq === 2 || h.seq === 3 ? 1 : 0).mask));
      assert.ok(m.expiry !== undefined && m.expiry > 0 && m.expiry <= 30, `expiry ${m.expiry}`);
    }

    // a late subscriber gets the retained status and the zone's last state (clear, after the exit)
    await early.waitFor(() => early.on('segd/cam1/zones/top/state').length >= 2, 'zone states');
    const late = await Subscriber.connect(b.url, ['segd/nodes/+/status', 'segd/cam1/zones/+/state']);
    closers.push(() => late.close());
    await late.waitFor(() => late.messages.length >= 2, 'retained status and zone state');
    assert.ok(late.messages.every((m) => m.retain));
    assert.equal(late.on('segd/nodes/n1/status')[0]?.text(), 'online');
    const state = late.on('segd/cam1/zones/top/state')[0]?.json<{ state: string; occupied: boolean; seq: number }>();
    assert.deepEqual([state?.state, state?.occupied, state?.seq], ['clear', false, 4]);

    await pub.close();
    await pub.close(); // idempotent
    await early.waitFor(() => early.on('segd/nodes/n1/status').some((m) => m.text() === 'offline'), 'offline on close');
    assert.equal(counts.sent.get('event'), 2);
    assert.equal(counts.connected, false);
  });

  it('broker down at start, killed and restarted: publish() never throws, QoS 0 dropped, events queued (bounded) and delivered after reconnect', async () => {
    // Persistence keeps the subscriber's session across the broker's restarts, so it receives the
    // queued events whenever the publisher gets through: no race with the subscriber's own reconnect.
    const b0 = await broker({ persistence: true });
    const sub = await Subscriber.connect(b0.url, ['segd/#'], { clean: false, clientId: `sub-${process.pid}`, properties: { sessionExpiryInterval: 600 } });
    closers.push(() => sub.close());
    await b0.stop();
    const analyzer = new StreamAnalyzer('cam1', W, H, CLASSES, [TOP]);
    const counts = new Counts();
    const { logger, lines } = memoryLogger('debug');
    const pub = publisher(b0.url, logger, analyzer, counts, { offlineQueue: 3 });
    closers.push(() => pub.close());
    // 8 frames alternating: 8 events (enter, exit, …) while the broker is down; the queue keeps the last 3.
    for (let seq = 1; seq <= 8; seq++) pub.publish(analyzer.analyze(frame(seq, (seq % 2) as 0 | 1)));
    assert.equal(pub.queued, 3);
    assert.equal(counts.dropped.get('offline_queue_full'), 5);
    assert.ok((counts.dropped.get('disconnected') ?? 0) >= 8, 'stats and masks dropped, not queued');
    await waitFor(() => lines.some((l) => /ECONNREFUSED/.test(l)), 'the refused connection logged', 60_000, () => lines.join('\n'));

    const b1 = await b0.restart();
    brokers.push(b1);
    await sub.waitFor(() => sub.on('segd/cam1/events').length >= 3, 'the 3 queued events');
    const seqs = sub.on('segd/cam1/events').map((m) => m.json<{ after: { seq: number } }>().after.seq);
    assert.deepEqual(seqs.slice(0, 3), [6, 7, 8], 'oldest dropped, the newest kept, in order');
    await waitFor(() => pub.connectionState === 'connected', 'connected');

    // killed mid-run: publishing goes on (dropped), then resumes once the broker is back
    await b1.kill();
    await waitFor(() => pub.connectionState !== 'connected', 'disconnect noticed');
    for (let seq = 9; seq <= 10; seq++) pub.publish(analyzer.analyze(frame(seq, 0)));
    const b2 = await b1.restart();
    brokers.push(b2);
    // QoS 0 is not kept for an offline subscriber: publish once both are back.
    await waitFor(() => pub.connectionState === 'connected' && sub.client.connected, 'both reconnected');
    pub.publish(analyzer.analyze(frame(11, 0)));
    await sub.waitFor(() => sub.on('segd/cam1/stats').some((m) => m.json<{ seq: number }>().seq === 11), 'stats after the restart');
  });

  it('wrong password: one clear error line naming the broker, never the password, and retries', async () => {
    const b = await broker({ users: { segd: 'right-password-123' } });
    const analyzer = new StreamAnalyzer('cam1', W, H, CLASSES, [TOP]);
    const counts = new Counts();
    const { logger, lines } = memoryLogger('debug');
    const pub = publisher(b.url, logger, analyzer, counts, { username: 'segd', password: 'wrong-password-xyz' });
    closers.push(() => pub.close());
    await waitFor(() => lines.some((l) => /refused the credentials/.test(l)) && lines.some((l) => /\(again\)/.test(l)), 'the error and a retry', 60_000, () => lines.join('\n'));
    const errors = lines.filter((l) => /refused the credentials/.test(l));
    assert.equal(errors.length, 1, errors.join('\n'));
    assert.match(errors[0]!, new RegExp(`mqtt broker mqtt://127\\.0\\.0\\.1:${b.port} refused the credentials`));
    assert.ok(!lines.some((l) => l.includes('wrong-password-xyz')), 'the password never appears in the log');
    assert.notEqual(pub.connectionState, 'connected');
    await pub.close();

    // the right one connects
    const ok = publisher(b.url, logger, analyzer, new Counts(), { username: 'segd', password: 'right-password-123' });
    closers.push(() => ok.close());
    await waitFor(() => ok.connectionState === 'connected', 'connected with the right password');
  });

  it('TLS with a throw-away CA: verified against the CA, refused without it', async () => {
    const pki = makeTempDir('segd-pki-');
    closers.push(async () => pki.cleanup());
    const ca = makeTestCa(pki.dir);
    const b = await broker({ tls: ca });
    assert.match(b.url, /^mqtts:/);
    const analyzer = new StreamAnalyzer('cam1', W, H, CLASSES, [TOP]);
    const { readFileSync } = await import('node:fs');
    const sub = await Subscriber.connect(b.url, ['segd/#'], { ca: readFileSync(ca.ca) });
    closers.push(() => sub.close());
    const { logger, lines } = memoryLogger('debug');
    const pub = publisher(b.url, logger, analyzer, new Counts(), { tls: { ca: readFileSync(ca.ca), rejectUnauthorized: true } });
    closers.push(() => pub.close());
    pub.publish(analyzer.analyze(frame(1, 1)));
    await sub.waitFor(() => sub.on('segd/nodes/n1/status').some((m) => m.text() === 'online'), 'online over TLS');

    const untrusted = publisher(b.url, logger, analyzer, new Counts());
    closers.push(() => untrusted.close());
    await waitFor(() => lines.some((l) => /self.signed|unable to (get|verify)|certificate/i.test(l)), 'a certificate error', 60_000, () => lines.join('\n'));
    assert.notEqual(untrusted.connectionState, 'connected');
  });

  it('no retained zone state before the first frame; after it, the real reading', async () => {
    const b = await broker();
    const analyzer = new StreamAnalyzer('cam1', W, H, CLASSES, [TOP]);
    const early = await Subscriber.connect(b.url, ['segd/#']);
    closers.push(() => early.close());
    const pub = publisher(b.url, memoryLogger('info').logger, analyzer, new Counts());
    closers.push(() => pub.close());
    await early.waitFor(() => early.on('segd/nodes/n1/status').some((m) => m.text() === 'online'), 'online');
    assert.deepEqual((await Subscriber.retained(b.url, 'segd/cam1/#')).map((m) => m.text()), [], 'nothing retained for the zone before a frame');

    pub.publish(analyzer.analyze(frame(1, 1))); // top all sky: ratio 1, enter at once (minDurationMs 0)
    await early.waitFor(() => early.on('segd/cam1/zones/top/state').length > 0, 'the first zone state');
    const retained = await Subscriber.retained(b.url, 'segd/cam1/#');
    assert.deepEqual(retained.map((m) => m.topic), ['segd/cam1/zones/top/state']);
    const state = retained[0]!.json<{ state: string; ratio: number; classes: Record<string, number>; seq: number | null }>();
    assert.deepEqual([state.state, state.ratio, state.classes, state.seq], ['occupied', 1, { sky: 1 }, 1]);
  });

  it('a zone renamed, a zone removed, then the stream removed: exit for each occupied zone, retained states cleared', async () => {
    const b = await broker();
    const BOTTOM = { ...TOP, name: 'bottom', polygon: [[0, 0.5], [1, 0.5], [1, 1], [0, 1]], classes: ['road'] };
    const analyses = new StreamAnalyses({ width: W, height: H, classNames: CLASSES });
    const first = analyses.set({ id: 'cam1', zones: [TOP, BOTTOM] }).analyzer!;
    const sub = await Subscriber.connect(b.url, ['segd/#']);
    closers.push(() => sub.close());
    const pub = publisher(b.url, memoryLogger('info').logger, first, new Counts(), { streams: [mqttStreamInfo(first)] });
    closers.push(() => pub.close());
    await sub.waitFor(() => sub.on('segd/nodes/n1/status').some((m) => m.text() === 'online'), 'online');
    const feed = (seq: number): void => pub.publish(analyses.analyze(frame(seq, 1))!); // top sky, bottom road: both occupied
    feed(1);
    await sub.waitFor(() => sub.on('segd/cam1/events').length === 2 && sub.on('segd/cam1/zones/bottom/state').length > 0, 'both zones entered');
    const entered = new Map(sub.on('segd/cam1/events').map((m) => m.json<{ zone: string; id: string }>()).map((e) => [e.zone, e.id]));
    const events = (): { type: string; zone: string; id: string; after: { occupied: boolean } }[] => sub.on('segd/cam1/events').map((m) => m.json());

    // `top` renamed `upper` (API PATCH or reload): `top` exits and its retained state goes; `bottom` carries on occupied.
    pub.onStreamChanged({ reason: 'changed', ...analyses.set({ id: 'cam1', zones: [{ ...TOP, name: 'upper' }, BOTTOM] }) });
    await sub.waitFor(() => events().length === 3 && sub.on('segd/cam1/zones/top/state').some((m) => m.payload.length === 0), 'exit of top, its state cleared');
    assert.deepEqual(events()[2], { ...events()[2], type: 'exit', zone: 'top', id: entered.get('top') });
    assert.equal(events()[2]?.after.occupied, false);
    feed(2);
    await sub.waitFor(() => sub.on('segd/cam1/zones/upper/state').length > 0, 'the renamed zone state');
    let retained = await Subscriber.retained(b.url, 'segd/cam1/#');
    assert.deepEqual(retained.map((m) => m.topic).sort(), ['segd/cam1/zones/bottom/state', 'segd/cam1/zones/upper/state']);
    assert.deepEqual(retained.map((m) => m.json<{ state: string }>().state), ['occupied', 'occupied']);

    // `bottom` removed: it exits with the id of its enter, its state is cleared; `upper` stays.
    pub.onStreamChanged({ reason: 'changed', ...analyses.set({ id: 'cam1', zones: [{ ...TOP, name: 'upper' }] }) });
    await sub.waitFor(() => events().some((e) => e.type === 'exit' && e.zone === 'bottom'), 'exit of bottom');
    assert.equal(events().find((e) => e.type === 'exit' && e.zone === 'bottom')?.id, entered.get('bottom'));
    retained = await Subscriber.retained(b.url, 'segd/cam1/#');
    assert.deepEqual(retained.map((m) => m.topic), ['segd/cam1/zones/upper/state']);

    // the stream removed: `upper` exits, nothing of the stream stays retained
    pub.onStreamChanged({ reason: 'removed', ...analyses.remove('cam1') });
    await sub.waitFor(() => events().some((e) => e.type === 'exit' && e.zone === 'upper'), 'exit of upper');
    assert.deepEqual(await Subscriber.retained(b.url, 'segd/cam1/#'), []);
    assert.deepEqual(events().map((e) => `${e.type} ${e.zone}`).sort(), ['enter bottom', 'enter top', 'enter upper', 'exit bottom', 'exit top', 'exit upper']);
  });
});
