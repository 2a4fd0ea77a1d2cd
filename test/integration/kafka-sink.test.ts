// The Kafka sink against a real Apache Kafka 4.x broker (KRaft, test/helpers/kafka-broker.ts):
// messages keyed by stream and in order per stream, every payload valid against docs/kafka schemas;
// the broker stopped for 10 s and restarted (the buffer delivers, oldest dropped first and counted,
// publishFrame never waits); SCRAM over TLS; wrong SASL credentials, an unknown CA and topics the sink may not create give one
// clear error and disturb nothing else.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import type { Logger } from 'pino';
import type { KafkaDropReason, KafkaMessageKind } from '../../pipeline/core/reasons.js';
import { KafkaSink, type KafkaSinkOptions } from '../../pipeline/publish/kafka-sink.js';
import { decodeMaskMessage } from '../../clients/ts/protocol-client.js';
import { makeTempDir } from '../helpers/daemon.js';
import { startKafka, type KafkaBroker } from '../helpers/kafka-broker.js';
import { TopicReader } from '../helpers/kafka-consumer.js';
import { makeTestCa } from '../helpers/mosquitto.js';
import { CAR_ZONE, TEST_CLASSES, kafkaValidators, testStream } from '../helpers/kafka-payloads.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { memoryLogger, waitFor } from '../helpers/source-harness.js';

class Counts {
  readonly sent = new Map<KafkaMessageKind, number>();
  /** Per acknowledged request, its messages by kind. */
  readonly requests: Map<KafkaMessageKind, number>[] = [];
  private current: Map<KafkaMessageKind, number> | null = null;
  readonly dropped = new Map<KafkaDropReason, number>();
  connected = false;
  buffered = 0;
  hooks = {
    onConnected: (c: boolean) => (this.connected = c),
    onSent: (k: KafkaMessageKind, n: number) => {
      this.sent.set(k, (this.sent.get(k) ?? 0) + n);
      // The sink reports one request's kinds in one synchronous run.
      if (this.current === null) {
        this.requests.push((this.current = new Map()));
        queueMicrotask(() => (this.current = null));
      }
      this.current.set(k, n);
    },
    onDropped: (r: KafkaDropReason, n: number) => this.dropped.set(r, (this.dropped.get(r) ?? 0) + n),
    onBuffered: (n: number) => (this.buffered = n),
  };
}


const topicsOf = (prefix: string): string[] => ['areas', 'zone-states', 'events', 'status'].map((t) => `${prefix}.${t}`);

function sinkOptions(bootstrap: string, prefix: string, streams: ReturnType<typeof testStream>[], logger: Logger, counts: Counts, over: Partial<KafkaSinkOptions> = {}): KafkaSinkOptions {
  return {
    brokers: [bootstrap],
    clientId: `segd-test-${process.pid}`,
    node: 'box1',
    topicPrefix: prefix,
    topics: { create: true, partitions: 3, replicationFactor: -1 },
    acks: 'all',
    idempotent: true,
    compression: 'gzip',
    areasIntervalMs: 0,
    masks: { enabled: false, intervalMs: 0 },
    statusIntervalMs: 60_000,
    buffer: { messages: 10_000, bytes: 64 * 1024 * 1024 },
    batchMessages: 50,
    lingerMs: 100,
    tls: null,
    sasl: null,
    connectTimeoutMs: 3000,
    requestTimeoutMs: 5000,
    reconnect: { minMs: 100, maxMs: 1000 },
    closeTimeoutMs: 5000,
    model: { name: 'test-model', classNames: TEST_CLASSES },
    streams: streams.map((s) => s.analyzer),
    logger,
    hooks: counts.hooks,
    ...over,
  };
}

/** Per key, the `seq` of its areas messages in arrival order. */
function seqsByKey(reader: TopicReader, topic: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const m of reader.of(topic)) {
    const seq = (JSON.parse((m.value as Buffer).toString('utf8')) as { seq: number }).seq;
    const list = out.get(m.key as string) ?? [];
    list.push(seq);
    out.set(m.key as string, list);
  }
  return out;
}

describe('kafka sink (real Kafka 4 broker)', () => {
  const dirs: ReturnType<typeof makeTempDir>[] = [];
  const brokers: KafkaBroker[] = [];
  const closers: (() => Promise<void>)[] = [];
  let plain: KafkaBroker;
  const { check } = kafkaValidators();

  const broker = async (opts: Omit<Parameters<typeof startKafka>[0], 'dir'> = {}): Promise<KafkaBroker> => {
    const dir = makeTempDir('segd-kafka-');
    dirs.push(dir);
    const b = await startKafka({ dir: dir.dir, ...opts });
    brokers.push(b);
    return b;
  };
  const track = <T extends { close(): Promise<void> }>(x: T): T => {
    closers.push(() => x.close());
    return x;
  };

  before(async () => {
    plain = await broker();
  });
  after(async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    for (const b of brokers) await b.kill().catch(() => undefined);
    for (const d of dirs) d.cleanup();
  });

  it('delivers every message keyed <node>/<stream>, in order per stream, each valid against its schema', async () => {
    const { logger } = memoryLogger('warn');
    const counts = new Counts();
    const streams = ['cam1', 'cam2', 'cam3'].map((id) => testStream(id));
    const sink = track(new KafkaSink(sinkOptions(plain.bootstrap, 'order', streams, logger, counts, { masks: { enabled: true, intervalMs: 500 } })));
    const N = 60;
    // Interleaved as the batcher hands them out, a few frames per tick.
    for (let seq = 0; seq < N; seq++) {
      for (const s of streams) sink.publishFrame(s.frame(seq));
      if (seq % 5 === 4) await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => counts.buffered === 0 && (counts.sent.get('areas') ?? 0) === N * streams.length, 'every areas message acknowledged', 60_000);
    assert.equal(sink.connectionState, 'ready');

    const reader = track(await TopicReader.start(plain.bootstrap, [...topicsOf('order'), 'order.masks']));
    await reader.until(() => reader.of('order.areas').length === N * streams.length, 'every areas message read back');
    const byKey = seqsByKey(reader, 'order.areas');
    assert.deepEqual([...byKey.keys()].sort(), ['box1/cam1', 'box1/cam2', 'box1/cam3']);
    for (const [key, seqs] of byKey) assert.deepEqual(seqs, Array.from({ length: N }, (_, i) => i), `${key}: every frame once, in order`);
    // One key, one partition: that is what keeps a camera's order.
    for (const key of byKey.keys()) assert.equal(new Set(reader.of('order.areas').filter((m) => m.key === key).map((m) => m.partition)).size, 1);
    for (const a of reader.json('order.areas')) check('areas', a);

    // Events: the car share flips every 5 frames, so enter at 5, exit at 10, …, enter at 55: 11 per stream.
    await reader.until(() => reader.of('order.events').length === 11 * streams.length, 'every zone event');
    for (const m of reader.of('order.events')) {
      const e = JSON.parse((m.value as Buffer).toString('utf8')) as { stream: string; type: string };
      check('event', e);
      assert.equal(m.key, `box1/${e.stream}`);
    }
    for (const key of byKey.keys()) {
      const types = reader.json<{ stream: string; type: string }>('order.events').filter((e) => `box1/${e.stream}` === key).map((e) => e.type);
      assert.deepEqual(types, Array.from({ length: 11 }, (_, i) => (i % 2 === 0 ? 'enter' : 'exit')), key);
    }
    // Zone states: the last one per key is the zone's state after the last frame (59: occupied).
    await reader.until(() => reader.of('order.zone-states').length >= 11 * streams.length, 'zone states');
    for (const z of reader.json('order.zone-states')) check('zone-states', z);
    for (const s of streams) {
      const last = reader.json<{ stream: string; zones: { state: string }[] }>('order.zone-states').filter((z) => z.stream === s.analyzer.streamId).at(-1);
      assert.equal(last?.zones[0]?.state, s.analyzer.states()[0]?.state);
    }
    // Masks: the WebSocket binary message, at most one per 500 ms of capture time (frames are 100 ms apart).
    await reader.until(() => reader.of('order.masks').length === (N / 5) * streams.length, 'masks');
    for (const m of reader.of('order.masks')) {
      const h = decodeMaskMessage(new Uint8Array(m.value as Buffer));
      assert.equal(`box1/${h.streamId}`, m.key);
      assert.equal(h.seq % 5, 0);
    }

    // Status: the daemon online with its streams, one status per stream; `offline` after close.
    await reader.until(() => reader.json('order.status').length >= 4, 'status');
    const node = reader.json<{ kind: string; state: string; streams: string[] }>('order.status').find((x) => x.kind === 'node');
    check('status-node', node);
    assert.deepEqual(node?.streams, ['cam1', 'cam2', 'cam3']);
    for (const x of reader.json<{ kind: string }>('order.status').filter((x) => x.kind === 'stream')) check('status-stream', x);
    assert.deepEqual(reader.of('order.status').filter((m) => m.value !== null).map((m) => m.key).filter((k, i, a) => a.indexOf(k) === i).sort(), ['box1', 'box1/cam1', 'box1/cam2', 'box1/cam3']);

    // A removed stream's status is forgotten: a tombstone under its key.
    sink.onStreamChanged({ reason: 'removed', streamId: 'cam3', analyzer: null, ended: [], removedZones: [CAR_ZONE.name] });
    await reader.until(() => reader.of('order.status').some((m) => m.key === 'box1/cam3' && m.value === null), 'tombstone for cam3');
    await sink.close();
    await reader.until(() => reader.json<{ kind: string; state: string }>('order.status').some((x) => x.kind === 'node' && x.state === 'offline'), 'offline');
    assert.equal(counts.dropped.get('buffer_full') ?? 0, 0);
    assert.equal(counts.dropped.get('shutdown') ?? 0, 0);
    await reader.close();
  });

  it('areas wait up to lingerMs to share a request; an event takes them along at once; close sends what waits', async () => {
    const { logger } = memoryLogger('warn');
    const connected = async (counts: Counts): Promise<void> => waitFor(() => counts.connected && counts.buffered === 0, 'connected, the start status sent', 60_000);

    // Ten frames 20 ms apart, a 3 s linger: one request carries all ten.
    const c1 = new Counts();
    const s1 = testStream('cam1', 1000);
    const a = track(new KafkaSink(sinkOptions(plain.bootstrap, 'linger', [s1], logger, c1, { lingerMs: 3000 })));
    await connected(c1);
    const first = c1.requests.length;
    for (let seq = 0; seq < 10; seq++) {
      a.publishFrame(s1.frame(seq));
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => (c1.sent.get('areas') ?? 0) === 10, 'the ten areas messages', 60_000);
    assert.deepEqual(c1.requests.slice(first).map((r) => r.get('areas')), [10], 'one request');
    await a.close();

    // A linger longer than this test: areas wait, then the zone's enter (seq 5) sends them with it.
    const c2 = new Counts();
    const s2 = testStream('cam2', 5);
    const b = track(new KafkaSink(sinkOptions(plain.bootstrap, 'linger', [s2], logger, c2, { lingerMs: 60_000 })));
    await connected(c2);
    for (let seq = 0; seq < 5; seq++) b.publishFrame(s2.frame(seq));
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(c2.sent.get('areas') ?? 0, 0, 'areas wait for the linger');
    assert.equal(c2.buffered, 5);
    b.publishFrame(s2.frame(5));
    await waitFor(() => (c2.sent.get('event') ?? 0) === 1 && (c2.sent.get('areas') ?? 0) === 6, 'the enter and the six areas', 30_000);
    // More areas wait again; close() sends them without waiting out the linger.
    for (let seq = 6; seq < 9; seq++) b.publishFrame(s2.frame(seq));
    await b.close();
    assert.equal(c2.sent.get('areas'), 9);
    assert.equal(c2.dropped.get('shutdown') ?? 0, 0);
  });

  it('buffers while the broker is down 10 s, drops the oldest when full (counted), delivers the rest in order once it is back', async () => {
    const { logger, lines } = memoryLogger('info');
    const counts = new Counts();
    const streams = ['cam1', 'cam2'].map((id) => testStream(id, 1000));
    const BUFFER = 80;
    const sink = track(new KafkaSink(sinkOptions(plain.bootstrap, 'outage', streams, logger, counts, { buffer: { messages: BUFFER, bytes: 64 * 1024 * 1024 } })));
    let seq = 0;
    const tick = (): void => {
      for (const s of streams) sink.publishFrame(s.frame(seq));
      seq++;
    };
    for (let i = 0; i < 20; i++) tick();
    await waitFor(() => (counts.sent.get('areas') ?? 0) === 40 && counts.buffered === 0, 'the first 20 frames acknowledged');
    const before = seq;

    const broker0 = brokers.indexOf(plain);
    // Frames keep coming while the broker shuts down and stays away ~10 s (10 fps per stream):
    // publishFrame is synchronous, it appends to the buffer and returns whatever the broker does.
    const ticker = setInterval(tick, 100);
    await plain.stop();
    const outageStart = Date.now();
    await waitFor(() => Date.now() - outageStart >= 10_000, '10 s of outage', 20_000);
    clearInterval(ticker);
    const published = seq;
    assert.equal(sink.connectionState, 'down');
    assert.ok(counts.buffered <= BUFFER + 50, `buffer bounded: ${counts.buffered}`);
    const droppedDuringOutage = counts.dropped.get('buffer_full') ?? 0;
    assert.ok(droppedDuringOutage > 0, 'the buffer overflowed and counted its drops');
    assert.ok(lines.some((l) => l.includes('"problem":"unreachable"')), 'the outage is logged');

    plain = await plain.restart();
    brokers[broker0] = plain;
    await waitFor(() => counts.buffered === 0 && counts.connected, 'buffer delivered after the restart', 90_000);
    const reader = track(await TopicReader.start(plain.bootstrap, topicsOf('outage')));
    const delivered = counts.sent.get('areas') ?? 0;
    await reader.until(() => reader.of('outage.areas').length === delivered, `${delivered} areas messages read back`);
    for (const a of reader.json('outage.areas')) check('areas', a);
    for (const [key, seqs] of seqsByKey(reader, 'outage.areas')) {
      // In order. A frame may arrive twice around the restart (at-least-once, docs/kafka.md): the
      // checks below look at the distinct frames.
      for (let i = 1; i < seqs.length; i++) assert.ok((seqs[i] as number) >= (seqs[i - 1] as number), `${key} in order at ${i}: ${seqs.join(',')}`);
      seqs.splice(0, seqs.length, ...new Set(seqs));
      // Everything up to the outage (with the batch in flight when it began), one gap, then the
      // newest frames up to the last: the oldest buffered ones were dropped.
      assert.deepEqual(seqs.slice(0, before), Array.from({ length: before }, (_, i) => i), key);
      const jumps = seqs.map((s, i) => (i > 0 && s - (seqs[i - 1] as number) > 1 ? i : -1)).filter((i) => i > 0);
      assert.equal(jumps.length, 1, `${key}: one gap: ${seqs.join(',')}`);
      const newest = seqs.slice(jumps[0]);
      assert.deepEqual(newest, Array.from({ length: newest.length }, (_, i) => published - newest.length + i), `${key}: the newest kept`);
    }
    assert.equal(delivered + (counts.dropped.get('buffer_full') ?? 0) >= published * 2, true, 'every areas message is either delivered or counted as dropped');
    await sink.close();
    await reader.close();
  });

  it('runs the consumer example of docs/kafka.md: it prints the events and the daemon status', async () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs', 'kafka.md'), 'utf8');
    const m = /<!-- consumer-example:[^>]*-->\n```js\n([\s\S]*?)\n```/.exec(doc);
    assert.ok(m !== null, 'docs/kafka.md has the consumer example block');
    const counts = new Counts();
    const streams = [testStream('cam1')];
    const sink = new KafkaSink(sinkOptions(plain.bootstrap, 'docs', streams, memoryLogger('warn').logger, counts));
    for (let seq = 0; seq < 20; seq++) sink.publishFrame(streams[0]!.frame(seq));
    await sink.close();
    const expected = (counts.sent.get('event') ?? 0) + (counts.sent.get('status') ?? 0);
    assert.equal(counts.sent.get('event'), 3);
    // Run as a user would: an ES module whose `kafkajs` resolves from the working directory.
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', m[1] as string], {
      cwd: REPO_ROOT,
      env: { ...process.env, BROKERS: plain.bootstrap, TOPIC_PREFIX: 'docs', MAX_MESSAGES: String(expected), GROUP: `docs-${process.pid}`, KAFKAJS_NO_PARTITIONER_WARNING: '1' },
      timeout: 120_000,
    });
    const lines = stdout.trim().split('\n').filter((l) => !l.startsWith('{'));
    assert.equal(lines.length, expected, stdout);
    assert.deepEqual(
      lines.filter((l) => l.includes('zone lot')),
      ['box1/cam1: zone lot enter (ratio 0.75)', 'box1/cam1: zone lot exit (ratio 0.125)', 'box1/cam1: zone lot enter (ratio 0.75)'],
    );
    assert.ok(lines.includes('box1: daemon online, model test-model'), stdout);
    assert.ok(lines.includes('box1/cam1: stream with zones lot'), stdout);
    // Two topics: each keeps its own order, not one between them.
    assert.ok(lines.includes('box1: daemon offline, model test-model'), stdout);
  });

  it('wrong SASL credentials: one clear error naming the user (never the password); the frame path and other clients carry on', async () => {
    const sasl = await broker({ users: { segd: 'right-password' } });
    const { logger, lines } = memoryLogger('debug');
    const counts = new Counts();
    const streams = [testStream('cam1')];
    const bad = track(
      new KafkaSink(sinkOptions(sasl.bootstrap, 'auth', streams, logger, counts, { sasl: { mechanism: 'plain', username: 'segd', password: 'wrong-password-xyz' }, buffer: { messages: 30, bytes: 1 << 20 } })),
    );
    for (let seq = 0; seq < 50; seq++) bad.publishFrame(streams[0]!.frame(seq));
    await waitFor(() => bad.lastProblem !== null, 'the sink reports a problem', 60_000);
    assert.equal(bad.lastProblem?.kind, 'auth');
    assert.match(bad.lastProblem?.message ?? '', /refused the credentials \(SASL plain user segd\)/);
    assert.ok(lines.some((l) => l.includes('"level":50') && l.includes('refused the credentials')), 'logged as an error');
    assert.ok(!lines.some((l) => l.includes('wrong-password-xyz')), 'the password never reaches the log');
    assert.equal(counts.connected, false);
    assert.ok((counts.dropped.get('buffer_full') ?? 0) > 0 && counts.buffered <= 30, 'buffer bounded while refused');

    // The right credentials on the same broker meanwhile: delivered.
    const goodCounts = new Counts();
    const good = track(new KafkaSink(sinkOptions(sasl.bootstrap, 'auth', streams, memoryLogger('warn').logger, goodCounts, { sasl: { mechanism: 'plain', username: 'segd', password: 'right-password' } })));
    good.publishFrame(streams[0]!.frame(50));
    await waitFor(() => (goodCounts.sent.get('areas') ?? 0) === 1, 'the good sink delivers');
    await Promise.all([bad.close(), good.close()]);
    assert.equal(bad.connectionState, 'closed');
  });

  it('SCRAM-SHA-512 over TLS (the defaults a managed cluster asks for): delivers with the CA; an unknown CA and a wrong password each get one clear error', async () => {
    const caDir = makeTempDir('segd-kafka-ca-');
    dirs.push(caDir);
    const ca = makeTestCa(caDir.dir);
    const secure = await broker({ users: { segd: 'scram-password' }, tls: { key: ca.key, cert: ca.cert } });
    const streams = [testStream('cam1')];
    const tls = { ca: readFileSync(ca.ca), rejectUnauthorized: true };
    const scram = (password: string) => ({ mechanism: 'scram-sha-512' as const, username: 'segd', password });

    const counts = new Counts();
    const good = track(new KafkaSink(sinkOptions(secure.bootstrap, 'secure', streams, memoryLogger('warn').logger, counts, { tls, sasl: scram('scram-password') })));
    for (let seq = 0; seq < 5; seq++) good.publishFrame(streams[0]!.frame(seq));
    await waitFor(() => (counts.sent.get('areas') ?? 0) === 5, 'delivered over TLS with SCRAM', 60_000);
    await good.close();

    // The system CAs do not know the test CA: refused, named, retried; nothing delivered.
    const untrusted = new Counts();
    const a = memoryLogger('debug');
    const noCa = track(new KafkaSink(sinkOptions(secure.bootstrap, 'secure', streams, a.logger, untrusted, { tls: { rejectUnauthorized: true }, sasl: scram('scram-password') })));
    noCa.publishFrame(streams[0]!.frame(0));
    await waitFor(() => noCa.lastProblem !== null, 'the sink reports the certificate', 60_000);
    assert.match(noCa.lastProblem?.message ?? '', /certificate/i);
    assert.equal(untrusted.sent.size, 0);
    await noCa.close();

    const wrong = new Counts();
    const b = memoryLogger('debug');
    const bad = track(new KafkaSink(sinkOptions(secure.bootstrap, 'secure', streams, b.logger, wrong, { tls, sasl: scram('wrong-scram-xyz') })));
    bad.publishFrame(streams[0]!.frame(0));
    await waitFor(() => bad.lastProblem !== null, 'the sink reports the credentials', 60_000);
    assert.equal(bad.lastProblem?.kind, 'auth');
    assert.match(bad.lastProblem?.message ?? '', /refused the credentials \(SASL scram-sha-512 user segd\)/);
    assert.ok(!b.lines.some((l) => l.includes('wrong-scram-xyz')), 'the password never reaches the log');
    await bad.close();
  });

  it('topics missing and kafka.topics.create false: an error naming them; delivers once they exist', async () => {
    const strict = await broker({ autoCreateTopics: false });
    const { logger } = memoryLogger('warn');
    const counts = new Counts();
    const streams = [testStream('cam1')];
    const sink = track(new KafkaSink(sinkOptions(strict.bootstrap, 'fixed', streams, logger, counts, { topics: { create: false, partitions: 1, replicationFactor: -1 } })));
    for (let seq = 0; seq < 10; seq++) sink.publishFrame(streams[0]!.frame(seq));
    await waitFor(() => sink.lastProblem !== null, 'the sink reports a problem');
    assert.equal(sink.lastProblem?.kind, 'topics');
    assert.match(sink.lastProblem?.message ?? '', /kafka topics fixed\.areas, fixed\.zone-states, fixed\.events, fixed\.status do not exist .* kafka\.topics\.create is false/);
    assert.equal(counts.sent.size, 0);

    // The operator creates them: the buffered frames follow.
    const admin = new Kafka({ clientId: 'segd-test-admin', brokers: [strict.bootstrap], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: topicsOf('fixed').map((topic) => ({ topic, numPartitions: 1 })) });
    await admin.disconnect();
    await waitFor(() => (counts.sent.get('areas') ?? 0) === 10, 'buffered areas delivered', 60_000);
    assert.equal(sink.lastProblem, null);
    await sink.close();
  });
});
