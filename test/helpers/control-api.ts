/**
 * For runtime-control tests against a daemon process: JSON calls to its /api/ routes (with the
 * bearer token when there is one), the ffmpeg children and the RSS of that process read from
 * /proc, and a per-stream recorder of what a WebSocket client received (seq gaps, model ids and
 * the order of text and binary messages).
 */
import { readFileSync, readdirSync } from 'node:fs';
import type { MaskMessage, ServerMessage } from '../../clients/ts/protocol-client.js';
import { parseServerMessage } from '../../clients/ts/protocol-client.js';
import type { E2eClient } from './e2e-client.js';

export interface ApiReply {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export async function api(httpUrl: string, method: string, path: string, body?: unknown, token?: string): Promise<ApiReply> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  const res = await fetch(`${httpUrl}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

/** Polls `GET /readyz` (with the token) until 200. */
export async function waitReady(httpUrl: string, token?: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${httpUrl}/readyz`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${httpUrl}/readyz not 200 within ${timeoutMs} ms`);
}

export interface ChildProc {
  readonly pid: number;
  readonly comm: string;
  /** R, S, Z (zombie: exited but never reaped) … */
  readonly state: string;
}

/** Every live child process of `ppid` (from /proc/<pid>/stat), e.g. the daemon's ffmpeg children. */
export function childProcesses(ppid: number): ChildProc[] {
  const out: ChildProc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // pid (comm) state ppid …; comm may contain spaces and parentheses: split at the last ')'.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const [state, parent] = stat.slice(close + 2).split(' ');
    if (Number(parent) === ppid) out.push({ pid: Number(name), comm, state: state ?? '?' });
  }
  return out;
}

export function ffmpegChildren(ppid: number): ChildProc[] {
  return childProcesses(ppid).filter((c) => c.comm.startsWith('ffmpeg'));
}

/** Resident set size of a process, in kB. */
export function rssKb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** One message as it arrived, in order: text replies and masks interleaved. */
export type Arrival = { readonly kind: 'text'; readonly msg: ServerMessage } | { readonly kind: 'mask'; readonly streamId: string; readonly seq: number; readonly modelId: string };

/**
 * Records, per stream, every gap in seq (a mask whose seq is not the previous one + 1) and the
 * model ids in the order masks carried them, plus the arrival order of every message. Install
 * before the events of interest; `gaps` must stay empty for a stream whose masks are all
 * delivered (unpaced files: none is dropped).
 */
export class Recorder {
  readonly arrivals: Arrival[] = [];
  readonly gaps = new Map<string, string[]>();
  readonly modelIds = new Map<string, string[]>();
  private readonly last = new Map<string, number>();

  constructor(client: E2eClient) {
    // A second listener: runs after E2eClient's own, in arrival order.
    client.ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      this.arrivals.push({ kind: 'text', msg: parseServerMessage(buf.toString('utf8')) });
    });
    const keep = client.keep;
    client.keep = (m: MaskMessage) => {
      this.onMask(m);
      return keep(m);
    };
  }

  private onMask(m: MaskMessage): void {
    this.arrivals.push({ kind: 'mask', streamId: m.streamId, seq: m.seq, modelId: m.modelId });
    const prev = this.last.get(m.streamId);
    if (prev !== undefined && m.seq !== prev + 1) {
      const list = this.gaps.get(m.streamId) ?? [];
      list.push(`${prev} → ${m.seq}`);
      this.gaps.set(m.streamId, list);
    }
    this.last.set(m.streamId, m.seq);
    const ids = this.modelIds.get(m.streamId) ?? [];
    if (ids[ids.length - 1] !== m.modelId) ids.push(m.modelId);
    this.modelIds.set(m.streamId, ids);
  }

  /** Masks of `streamId` received so far. */
  masks(streamId: string): number {
    return this.arrivals.filter((a) => a.kind === 'mask' && a.streamId === streamId).length;
  }
}
