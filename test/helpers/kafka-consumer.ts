/**
 * A real Kafka consumer for the tests (KafkaJS, a fresh consumer group reading from the beginning):
 * every message of the given topics, in arrival order, with its partition, offset and key.
 */
import { Kafka, logLevel, type Consumer, type SASLOptions } from 'kafkajs';
import { waitFor } from './source-harness.js';

export interface ConsumedMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly value: Buffer | null;
}

export class TopicReader {
  readonly messages: ConsumedMessage[] = [];
  private constructor(
    private readonly consumer: Consumer,
    private readonly markClosing: () => void,
  ) {}

  static async start(bootstrap: string, topics: readonly string[], sasl?: SASLOptions): Promise<TopicReader> {
    const kafka = new Kafka({ clientId: 'segd-test-reader', brokers: [bootstrap], logLevel: logLevel.NOTHING, ...(sasl ? { sasl } : {}) });
    // A consumer that crashed (a fresh broker's group coordinator still loading) restarts after at
    // most 1 s, unless the reader is closing: close() waits that long and disconnects again, so no
    // restart outlives it and keeps the test process alive.
    let closing = false;
    const consumer = kafka.consumer({
      groupId: `segd-test-${process.pid}-${Math.random().toString(36).slice(2)}`,
      maxWaitTimeInMs: 200,
      retry: { retries: 5, maxRetryTime: 1000, restartOnFailure: async () => !closing },
    });
    const reader = new TopicReader(consumer, () => (closing = true));
    await consumer.connect();
    await consumer.subscribe({ topics: [...topics], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        reader.messages.push({ topic, partition, offset: Number(message.offset), key: message.key?.toString('utf8') ?? null, value: message.value });
      },
    });
    return reader;
  }

  of(topic: string): ConsumedMessage[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  /** The JSON values of one topic (tombstones left out). */
  json<T = Record<string, unknown>>(topic: string): T[] {
    return this.of(topic)
      .filter((m) => m.value !== null)
      .map((m) => JSON.parse((m.value as Buffer).toString('utf8')) as T);
  }

  until(pred: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
    return waitFor(pred, what, timeoutMs, () => `${this.messages.length} messages so far`);
  }

  private closed: Promise<void> | null = null;

  /** Idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.markClosing();
      await this.consumer.disconnect();
      await new Promise((r) => setTimeout(r, 1500));
      await this.consumer.disconnect();
    })();
    return this.closed;
  }
}
