/**
 * Reading a small file whose path someone else chose (a config, a model card, a token file):
 * regular files only, with a size cap, so a device (`/dev/zero`, `/dev/ptmx`), a FIFO or a
 * `/proc` file is refused rather than read without end or waited on forever. The type is checked
 * by path before opening, and again on the open descriptor (the path may have been swapped in
 * between); O_NONBLOCK keeps even that open from waiting for a FIFO's writer.
 */
import { constants, fstatSync, openSync, closeSync, readSync, statSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';

/** A config file is a few KiB; a model card a few KiB (classes, colours, metrics). */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;
export const MAX_CARD_FILE_BYTES = 1024 * 1024;
/** A token or password file. */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;
/** A card read that takes longer than this (a hung network mount) is given up. */
export const FILE_READ_TIMEOUT_MS = 10_000;

const FLAGS = constants.O_RDONLY | constants.O_NONBLOCK;

/** An Error whose `code` says why (EFTYPE: not a regular file, EFBIG: over the cap), for callers that report codes. */
function refusal(code: 'EFTYPE' | 'EFBIG', message: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(message);
  err.code = code;
  return err;
}

function check(st: Stats, maxBytes: number): void {
  if (!st.isFile()) refuseType(st);
  if (st.size > maxBytes) throw refusal('EFBIG', `file of ${st.size} bytes, expected at most ${maxBytes}`);
}

function refuseType(st: Stats): never {
  const what = st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a file';
  throw refusal('EFTYPE', `${what}, expected a regular file`);
}

function isProc(path: string): boolean {
  // /proc files report size 0 and are generated on read: never ours to read.
  return path === '/proc' || path.startsWith('/proc/') || path.startsWith('/sys/');
}

/** The file's bytes. Throws ENOENT & co. from fs, EFTYPE for a non-regular file, EFBIG above `maxBytes`. */
export function readRegularFile(path: string, maxBytes: number): Buffer {
  if (isProc(path)) throw refusal('EFTYPE', 'a /proc or /sys file, expected a regular file');
  check(statSync(path), maxBytes);
  const fd = openSync(path, FLAGS);
  try {
    const st = fstatSync(fd);
    check(st, maxBytes);
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < st.size) {
      const n = readSync(fd, buf, got, st.size - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** As readRegularFile, without blocking the event loop, and given up after `timeoutMs`. */
export async function readRegularFileAsync(path: string, maxBytes: number, timeoutMs: number = FILE_READ_TIMEOUT_MS): Promise<Buffer> {
  if (isProc(path)) throw refusal('EFTYPE', 'a /proc or /sys file, expected a regular file');
  check(statSync(path), maxBytes);
  const fh = await open(path, FLAGS);
  let timer: NodeJS.Timeout | undefined;
  try {
    const read = (async (): Promise<Buffer> => {
      check(await fh.stat(), maxBytes);
      const data = await fh.readFile();
      if (data.length > maxBytes) throw refusal('EFBIG', `file grew past ${maxBytes} bytes while being read`);
      return data;
    })();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`not read within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
    });
    return await Promise.race([read, timeout]);
  } finally {
    clearTimeout(timer);
    // Not awaited: after a timeout the read may still hold the handle; it closes when that ends.
    fh.close().catch(() => undefined);
  }
}

/** Why a read failed, for an error line: the fs code (ENOENT, EACCES), or what the refusal expected. Never the file's contents. */
export function readProblem(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EFTYPE' || e.code === 'EFBIG' || e.code === 'ETIMEDOUT') return e.message;
  return e.code ?? (err instanceof Error ? err.message : String(err));
}
