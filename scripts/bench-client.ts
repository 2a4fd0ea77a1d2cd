/**
 * The bench's measuring WebSocket client, in a child process with its own event loop:
 * `node bench-client.js URL START END` counts the masks received in [START, END) (epoch ms) per stream and their
 * capture→receive latency (receive time − the header's captureTimeMs; same machine, same clock), then prints one
 * JSON line. A plain `ws` client that sends nothing: segd then sends every stream raw, and the bench's peers
 * (scripts/peers/) send the same binary format, so segd and the peers are measured by the same code.
 */
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { decodeMessage } from '../clients/ts/protocol-client.js';
import { at, runChild } from './bench-child.js';

export interface ClientReport {
  /** Masks received inside the window, per stream. */
  readonly perStream: Record<string, number>;
  readonly latencyMs: number[];
}

/** Starts the client in a child process; resolves after END with what it counted. */
export function measureClient(url: string, start: number, end: number): Promise<ClientReport> {
  return runChild<ClientReport>(fileURLToPath(import.meta.url), [url, String(start), String(end)], 'bench client');
}

async function main(url: string, start: number, end: number): Promise<void> {
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', (err) => reject(new Error(`bench client: cannot connect to ${url}: ${err.message}`)));
  });
  const latencyMs: number[] = [];
  const perStream: Record<string, number> = {};
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const now = Date.now();
    if (!isBinary || now < start || now >= end) return;
    const m = decodeMessage(data);
    if (m.kind !== 'mask') return;
    latencyMs.push(now - m.captureTimeMs);
    perStream[m.streamId] = (perStream[m.streamId] ?? 0) + 1;
  });
  await at(end, () => undefined);
  ws.close();
  const report: ClientReport = { perStream, latencyMs };
  process.stdout.write(JSON.stringify(report) + '\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [url, start, end] = process.argv.slice(2);
  main(String(url), Number(start), Number(end)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  });
}
