// End to end: the built daemon publishing to a real Apache Kafka 4 broker. A WebSocket client that
// histograms every mask itself, and a Kafka consumer: the areas messages are keyed e2e/cam, in frame
// order, valid against docs/kafka/areas.schema.json and equal to the masks' own histograms; the
// broker stopped for 10 s does not pause the WebSocket, the small buffer overflows (counted) and
// publishing resumes once the broker is back.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MODEL_PATH, makeTempDir, startReadyDaemon, testConfig, type DaemonProcess } from '../helpers/daemon.js';
import { readCardBeside } from '../helpers/direct-masks.js';
import { E2eClient, metricValue, pollUntil, scrape } from '../helpers/e2e-client.js';
import { startKafka, type KafkaBroker } from '../helpers/kafka-broker.js';
import { TopicReader } from '../helpers/kafka-consumer.js';
import { kafkaValidators } from '../helpers/kafka-payloads.js';
import { SAMPLE_CLIP_VAL } from '../helpers/paths.js';

interface Areas {
  readonly seq: number;
  readonly stream: string;
  readonly node: string;
  readonly model: string;
  readonly classes: Record<string, number>;
}

describe('e2e: Kafka publishing from the daemon (real Kafka 4 broker)', { timeout: 600_000 }, () => {
  const card = readCardBeside(MODEL_PATH);
  const names = (card as unknown as { classes: { name: string }[] }).classes.map((c) => c.name);
  const { check } = kafkaValidators();
  let tmp: ReturnType<typeof makeTempDir>;
  let broker: KafkaBroker;
  let daemon: DaemonProcess;
  let ws: E2eClient;
  let reader: TopicReader;
  const seen = new Map<number, number[]>();

  before(async () => {
    tmp = makeTempDir('segd-e2e-kafka-');
    broker = await startKafka({ dir: tmp.dir });
    const cfg = testConfig([{ id: 'cam', url: SAMPLE_CLIP_VAL, loop: true, realtime: true }], {
      kafka: { brokers: [broker.bootstrap], node: 'e2e', topics: { partitions: 1 }, buffer: { messages: 5 }, reconnect: { minMs: 100, maxMs: 1000 } },
    });
    daemon = await startReadyDaemon(tmp.dir, cfg);
    ws = await E2eClient.connect(daemon.wsUrl);
    ws.keep = (m) => {
      const counts = new Array<number>(names.length).fill(0);
      for (const c of m.payload) counts[c]!++;
      seen.set(m.seq, counts);
      return false;
    };
    await pollUntil(async () => metricValue(await scrape(daemon.httpUrl), 'segd_kafka_connected') === 1, 'segd_kafka_connected 1', 120_000);
    reader = await TopicReader.start(broker.bootstrap, ['segd.areas', 'segd.status']);
  });
  after(async () => {
    await ws?.terminate();
    await daemon?.stop();
    await reader?.close().catch(() => undefined);
    await broker?.kill();
    tmp?.cleanup();
  });

  const areas = (): Areas[] => reader.json<Areas>('segd.areas');

  it('areas are keyed e2e/cam, in frame order, valid, and equal the masks the WebSocket client saw', async () => {
    await reader.until(() => areas().filter((a) => seen.has(a.seq)).length >= 3, '3 areas messages of masks the client saw', 120_000);
    assert.ok(reader.of('segd.areas').every((m) => m.key === 'e2e/cam'));
    const seqs = areas().map((a) => a.seq);
    for (let i = 1; i < seqs.length; i++) assert.ok((seqs[i] as number) > (seqs[i - 1] as number), `in order: ${seqs.join(',')}`);
    for (const a of areas()) check('areas', a);
    for (const a of areas().filter((x) => seen.has(x.seq))) {
      const own = seen.get(a.seq) as number[];
      const pixels = own.reduce((s, x) => s + x, 0);
      assert.deepEqual(a.classes, Object.fromEntries(names.map((n, i) => [n, (own[i] as number) / pixels])), `areas of seq ${a.seq}`);
      assert.deepEqual([a.node, a.stream, a.model], ['e2e', 'cam', card.name]);
    }
    await reader.until(() => reader.json<{ kind: string; state: string }>('segd.status').some((s) => s.kind === 'node' && s.state === 'online'), 'online status');
  });

  it('broker stopped 10 s: the WebSocket never pauses, the buffer overflows (counted), publishing resumes', async () => {
    // The reader leaves before the broker does and a new one reads everything once it is back.
    await reader.close();
    const t0 = Date.now();
    await broker.stop();
    const before = ws.count('cam');
    await ws.waitUntil(() => ws.count('cam') >= before + 10, '10 more masks while the broker is down', 120_000);
    // At least 10 s away, whatever the frame rate.
    await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - t0))));
    const down = await scrape(daemon.httpUrl);
    assert.equal(metricValue(down, 'segd_kafka_connected'), 0);
    assert.ok((metricValue(down, 'segd_kafka_dropped_total', { reason: 'buffer_full' }) ?? 0) > 0, 'drops counted');
    const lastSeq = ws.lastSeq.get('cam') ?? 0;
    broker = await broker.restart();
    await pollUntil(async () => metricValue(await scrape(daemon.httpUrl), 'segd_kafka_connected') === 1, 'segd_kafka_connected 1 again', 120_000);
    reader = await TopicReader.start(broker.bootstrap, ['segd.areas', 'segd.status']);
    await reader.until(() => areas().some((a) => a.seq > lastSeq), 'areas after the restart', 120_000);
    const seqs = areas().map((a) => a.seq);
    const kafkaLog = (): string => daemon.logs.filter((l) => JSON.stringify(l).includes('kafka')).map((l) => JSON.stringify(l)).join('\n');
    // In order; around a broker restart a frame may arrive twice (at-least-once, docs/kafka.md).
    for (let i = 1; i < seqs.length; i++) assert.ok((seqs[i] as number) >= (seqs[i - 1] as number), `still in order: ${seqs.join(',')}\n${kafkaLog()}`);
  });
});
