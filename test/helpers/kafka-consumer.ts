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
  private constructor(private readonly consumer: Consumer) {}

  static async start(bootstrap: string, topics: readonly string[], sasl?: SASLOptions): Promise<TopicReader> {
    const kafka = new Kafka({ clientId: 'segd-test-reader', brokers: [bootstrap], logLevel: logLevel.NOTHING, ...(sasl ? { sasl } : {}) });
    // No restart after a crash (the broker stopped by a later test): a restart timer would outlive
    // disconnect() and keep the test process alive.
    const consumer = kafka.consumer({
      groupId: `segd-test-${process.pid}-${Math.random().toString(36).slice(2)}`,
      maxWaitTimeInMs: 200,
      retry: { retries: 5, restartOnFailure: async () => false },
    });
    const reader = new TopicReader(consumer);
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
    this.closed ??= this.consumer.disconnect();
    return this.closed;
  }
}
