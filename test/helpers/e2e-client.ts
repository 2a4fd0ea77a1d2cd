/**
 * A WebSocket client for end-to-end tests against the daemon process: decodes every message with
 * the reference decoder (clients/ts/protocol-client.ts), counts masks per stream, keeps only the
 * masks a test asks for (a daemon sends ~170 KB per raw mask), and lets a test wait on a condition.
 */
import { WebSocket } from 'ws';
import {
  decodeMaskMessage,
  parseServerMessage,
  type ClientMessage,
  type HelloMessage,
  type MaskMessage,
  type ServerMessage,
} from '../../clients/ts/protocol-client.js';

export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

export class E2eClient {
  hello!: HelloMessage;
  readonly texts: ServerMessage[] = [];
  /** Masks received per stream id. */
  readonly counts = new Map<string, number>();
  /** Last seq received per stream id. */
  readonly lastSeq = new Map<string, number>();
  /** Masks for which `keep` returned true, in arrival order. */
  readonly kept: MaskMessage[] = [];
  keep: (m: MaskMessage) => boolean = () => false;
  closeInfo: CloseInfo | null = null;
  readonly closed: Promise<CloseInfo>;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      if (isBinary) {
        const m = decodeMaskMessage(buf);
        this.counts.set(m.streamId, (this.counts.get(m.streamId) ?? 0) + 1);
        this.lastSeq.set(m.streamId, m.seq);
        if (this.keep(m)) this.kept.push(m);
      } else {
        this.texts.push(parseServerMessage(buf.toString('utf8')));
      }
      this.wake();
    });
    ws.on('error', () => {
      /* surfaced through `closed` */
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString('utf8') };
        resolve(this.closeInfo);
        this.wake();
      }),
    );
  }

  /** Connects and waits for the server's `hello`. */
  static async connect(url: string, timeoutMs = 10000): Promise<E2eClient> {
    const c = new E2eClient(new WebSocket(url));
    await c.waitUntil(() => c.texts.length > 0, 'hello', timeoutMs);
    const first = c.texts[0];
    if (first?.type !== 'hello') throw new Error(`first message: ${first?.type}; expected hello`);
    c.hello = first;
    return c;
  }

  count(streamId: string): number {
    return this.counts.get(streamId) ?? 0;
  }

  send(msg: ClientMessage | string | Buffer): void {
    this.ws.send(typeof msg === 'string' || Buffer.isBuffer(msg) ? msg : JSON.stringify(msg));
  }

  /** Sends `msg` and resolves with the next text reply. */
  async request(msg: ClientMessage | string | Buffer, timeoutMs = 10000): Promise<ServerMessage> {
    const before = this.texts.length;
    this.send(msg);
    await this.waitUntil(() => this.texts.length > before, 'a reply', timeoutMs);
    return this.texts[before] as ServerMessage;
  }

  /** Resolves when `cond()` holds (checked on every message and on close); rejects after timeoutMs. */
  waitUntil(cond: () => boolean, what: string, timeoutMs = 30000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        let ok: boolean;
        try {
          ok = cond();
        } catch (err) {
          return finish(err as Error);
        }
        if (ok) return finish(null);
        if (this.closeInfo) finish(new Error(`connection closed (${this.closeInfo.code}) while waiting for ${what}`));
      };
      const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      const finish = (err: Error | null): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (err) reject(err);
        else resolve();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Drops the connection without a closing handshake (cleanup). */
  async terminate(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.terminate();
    await this.closed;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

/** Reads one sample's value from a Prometheus text scrape; undefined when the series is absent. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found = new Map<string, string>();
    for (const pair of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) found.set(pair[1] ?? '', pair[2] ?? '');
    if (Object.entries(labels).every(([k, v]) => found.get(k) === v)) return Number(m[4]);
  }
  return undefined;
}

/** The sum of every series of `name` whose labels include `labels` (e.g. all reasons of one stream); undefined when none matches. */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    const only = metricValue(line, name, labels);
    if (only !== undefined) sum = (sum ?? 0) + only;
  }
  return sum;
}

export async function scrape(httpUrl: string): Promise<string> {
  const res = await fetch(`${httpUrl}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics: HTTP ${res.status}`);
  return res.text();
}

/** Polls `fn` until it returns a value that is not undefined/false; rejects after timeoutMs. */
export async function pollUntil<T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = 30000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown = null;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? ` (last error: ${String(lastErr)})` : ''}`);
}
