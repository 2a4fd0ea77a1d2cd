/**
 * ffmpeg's stderr, line by line: showinfo lines feed the pts matcher and are never logged;
 * every other line is redacted (ffmpeg echoes the input URL with its credentials) and logged at a
 * level taken from ffmpeg's own `[level]` prefix, raised when the text looks like an error.
 * Logging is capped per second so a decoder spewing errors cannot flood the journal.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Logger } from 'pino';

/** `[Parsed_showinfo_2 @ 0x...] [info] n:  12 pts:  12288 pts_time:1.2 ...` */
const SHOWINFO_RE = /^\[Parsed_showinfo_\d+ @ [^\]]*\] (?:\[[a-z]+\] )?n:\s*(\d+)\s+pts:\s*\S+\s+pts_time:(\S+)/;
const SHOWINFO_OTHER_RE = /^\[Parsed_showinfo_\d+ @ /;
const LEVEL_RE = /\[(panic|fatal|error|warning|info|verbose|debug|trace)\] /;
/**
 * ffmpeg reports these at [error] though nothing is wrong for raw output: RTP carries no DTS, so
 * B-frame streams make the rawvideo muxer complain. Logged at debug.
 */
const BENIGN_RE = /non monotonically increasing dts/;
const ERRORISH_RE = /error|fail|invalid|refused|unreachable|timed out|timeout|not found|denied|unauthori[sz]ed|no such|broken pipe|end of file/i;

/** Longest line kept; longer runs without a newline are cut (bounded memory). */
const MAX_LINE = 4096;

export interface FfmpegStderrOptions {
  readonly logger: Logger;
  readonly redact: (line: string) => string;
  /** Receives showinfo's frame number and pts (ms; null when NOPTS). Absent: showinfo not in use. */
  readonly onShowinfo?: (n: number, ptsMs: number | null) => void;
  /** Logged lines per second before suppression. Default 30. */
  readonly maxLinesPerSec?: number;
}

export class FfmpegStderr {
  private readonly log: Logger;
  private readonly redact: (line: string) => string;
  private readonly onShowinfo: ((n: number, ptsMs: number | null) => void) | undefined;
  private readonly maxLinesPerSec: number;
  private decoder = new StringDecoder('utf8');
  private partial = '';
  private windowStart = 0;
  private windowLines = 0;
  private suppressed = 0;
  private lastErrorLine: string | null = null;

  constructor(opts: FfmpegStderrOptions) {
    this.log = opts.logger;
    this.redact = opts.redact;
    this.onShowinfo = opts.onShowinfo;
    this.maxLinesPerSec = opts.maxLinesPerSec ?? 30;
  }

  /** The last error-looking line (redacted) of the current child, for the exit log. */
  get lastError(): string | null {
    return this.lastErrorLine;
  }

  push(chunk: Buffer): void {
    let text = this.partial + this.decoder.write(chunk);
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      const cr = text.indexOf('\r', start);
      const end = nl < 0 ? cr : cr < 0 ? nl : Math.min(nl, cr);
      if (end < 0) break;
      if (end > start) this.line(text.slice(start, end));
      start = end + 1;
    }
    text = text.slice(start);
    if (text.length > MAX_LINE) {
      this.line(text.slice(0, MAX_LINE));
      text = '';
    }
    this.partial = text;
  }

  /** Child gone: emit a trailing partial line, then start clean for the next child. */
  end(): void {
    const rest = this.partial + this.decoder.end();
    if (rest.length > 0) this.line(rest);
    this.partial = '';
    this.decoder = new StringDecoder('utf8');
    this.flushSuppressed();
  }

  /** New child: forget the previous child's last error. */
  reset(): void {
    this.lastErrorLine = null;
  }

  private line(raw: string): void {
    if (this.onShowinfo !== undefined && raw.charCodeAt(0) === 0x5b /* [ */ && SHOWINFO_OTHER_RE.test(raw)) {
      const m = SHOWINFO_RE.exec(raw);
      if (m !== null) {
        const t = Number(m[2]);
        // Rounded to µs: pts_time is printed in decimal seconds, and 0.7 * 1000 is not 700 in floats.
        this.onShowinfo(Number(m[1]), Number.isFinite(t) ? Math.round(t * 1e6) / 1e3 : null);
      }
      return;
    }
    const level = LEVEL_RE.exec(raw)?.[1] ?? 'info';
    const text = this.redact(raw.replace(LEVEL_RE, '').trim());
    if (text === '') return;
    let pinoLevel: 'error' | 'warn' | 'debug' | 'trace';
    if (BENIGN_RE.test(text)) pinoLevel = 'debug';
    else if (level === 'panic' || level === 'fatal' || level === 'error') pinoLevel = 'error';
    else if (level === 'warning' || ERRORISH_RE.test(text)) pinoLevel = 'warn';
    else if (level === 'info') pinoLevel = 'debug';
    else pinoLevel = 'trace';
    if (pinoLevel === 'error' || (pinoLevel === 'warn' && ERRORISH_RE.test(text))) this.lastErrorLine = text;
    if (!this.log.isLevelEnabled(pinoLevel)) return;
    const now = Date.now();
    if (now - this.windowStart >= 1000) {
      this.flushSuppressed();
      this.windowStart = now;
      this.windowLines = 0;
    }
    if (++this.windowLines > this.maxLinesPerSec) {
      this.suppressed++;
      return;
    }
    this.log[pinoLevel]({ ffmpeg: level }, `ffmpeg: ${text}`);
  }

  private flushSuppressed(): void {
    if (this.suppressed > 0) this.log.warn({ suppressed: this.suppressed }, 'ffmpeg: log lines suppressed (rate limit)');
    this.suppressed = 0;
  }
}
