/** An MQTT 5 subscriber (MQTT.js) that records every message and lets a test wait on a condition. */
import { connectAsync, type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';

export interface Received {
  readonly topic: string;
  readonly payload: Buffer;
  readonly retain: boolean;
  readonly qos: number;
  readonly expiry: number | undefined;
  text(): string;
  json<T = Record<string, unknown>>(): T;
}

export class Subscriber {
  readonly messages: Received[] = [];
  private readonly waiters = new Set<() => void>();

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic: string, payload: Buffer, packet: IPublishPacket) => {
      this.messages.push({
        topic,
        payload,
        retain: packet.retain,
        qos: packet.qos,
        expiry: packet.properties?.messageExpiryInterval,
        text: () => payload.toString('utf8'),
        json: <T>() => JSON.parse(payload.toString('utf8')) as T,
      });
      for (const w of this.waiters) w();
    });
  }

  static async connect(url: string, topics: string | string[], opts: IClientOptions = {}): Promise<Subscriber> {
    const client = await connectAsync(url, { protocolVersion: 5, reconnectPeriod: 200, ...opts });
    const s = new Subscriber(client);
    await client.subscribeAsync(topics, { qos: 1 });
    return s;
  }

  /**
   * What the broker holds retained under `filter` (ending in `/#`), exactly: a fresh subscriber, then
   * a marker it publishes itself under the same filter. The broker sends the retained messages when
   * it handles the SUBSCRIBE, before it routes the later PUBLISH on the same connection, so
   * everything retained has arrived once the marker has: no waiting on a quiet period.
   */
  static async retained(url: string, filter: string, opts: IClientOptions = {}): Promise<Received[]> {
    const s = await Subscriber.connect(url, filter, opts);
    try {
      const marker = `${filter.replace(/#$/, '')}__marker__${process.pid}`;
      await s.client.publishAsync(marker, 'marker', { qos: 1, retain: false });
      await s.waitFor(() => s.on(marker).length > 0, `the marker on ${marker}`);
      return s.messages.slice(0, s.messages.findIndex((m) => m.topic === marker)).filter((m) => m.retain);
    } finally {
      await s.close();
    }
  }

  on(topic: string): Received[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  /** Resolves once `pred` holds (checked on every message); rejects after timeoutMs naming `what`. */
  waitFor(pred: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!pred()) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; got ${this.messages.length} message(s): ${this.messages.slice(-5).map((m) => `${m.topic} ${m.text().slice(0, 120)}`).join(' | ')}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}
