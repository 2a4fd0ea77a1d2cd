/**
 * Synchronous, non-blocking drain of a child's stderr pipe.
 *
 * Why: showinfo writes frame k's pts line to stderr before ffmpeg writes frame k to stdout, but
 * libuv may deliver a burst of stdout reads before it polls stderr again. Reading whatever is
 * already in the stderr pipe at the moment a frame is cut makes the pts match exact without
 * holding frames back. Node exposes no public fd for a child's pipe, so this thin adapter reads
 * the private `_handle.fd`; when it is missing, callers fall back to waiting (pts-matcher.ts).
 */
import { readSync } from 'node:fs';
import type { Readable } from 'node:stream';

/** The OS file descriptor behind a child-process pipe, or null where Node does not expose one. */
export function pipeFd(stream: Readable): number | null {
  // Private Node internals (net.Socket -> Pipe handle); typed narrowly, checked at run time.
  const handle = (stream as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : null;
}

/**
 * Reads everything currently buffered in the (non-blocking) pipe `fd` into `scratch`, handing
 * each chunk to `onChunk` (a view valid only during the call). Stops at EAGAIN, EOF or any error.
 * Returns the number of bytes read.
 */
export function drainPipeSync(fd: number, scratch: Buffer, onChunk: (chunk: Buffer) => void): number {
  let total = 0;
  for (;;) {
    let n: number;
    try {
      n = readSync(fd, scratch, 0, scratch.length, null);
    } catch {
      return total; // EAGAIN (empty), EBADF (closed): nothing more now
    }
    if (n <= 0) return total;
    total += n;
    onChunk(scratch.subarray(0, n));
    if (n < scratch.length) return total;
  }
}
