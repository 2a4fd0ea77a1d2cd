/**
 * The ffmpeg command line for one stream, as a pure function (unit-tested; no fluent-ffmpeg).
 * Output is always headerless RGB24 frames of exactly width*height*3 bytes on stdout.
 */
import type { ParsedSource } from './source-url.js';

/**
 * Decoder threads per stream; 0 = ffmpeg's choice (about one per core). 1: the streams already
 * decode in parallel, and extra frame threads cost CPU (sample clip: 2.28 → 2.15 ms/frame).
 */
export const FFMPEG_DEFAULT_THREADS = 1;

export interface FfmpegArgsOptions {
  readonly source: ParsedSource;
  /** file: restart at EOF (`-stream_loop -1`). */
  readonly loop: boolean;
  /** file: pace at native rate (`-re`). */
  readonly realtime: boolean;
  readonly rtspTransport: 'tcp' | 'udp';
  /** Output size (ffmpeg scales). */
  readonly width: number;
  readonly height: number;
  /** Output rate cap via the fps filter; null = native rate. */
  readonly maxFps: number | null;
  /**
   * Append `showinfo` so stderr carries one `n:<index> ... pts_time:<s>` line per output frame
   * (needs `-loglevel info`). Also forces `-vsync passthrough` so stdout frame k is showinfo's n=k.
   */
  readonly showinfo: boolean;
  /** Network I/O timeout (rtsp -stimeout / http -rw_timeout), milliseconds. */
  readonly ioTimeoutMs: number;
  /** Decoder threads (`-threads`, an input option); 0 or absent = ffmpeg's choice. */
  readonly threads?: number;
}

/** Input-side options by source kind (they go before `-i`). */
function inputOptions(o: FfmpegArgsOptions): string[] {
  const ioTimeoutUs = String(Math.max(1, Math.round(o.ioTimeoutMs * 1000)));
  switch (o.source.kind) {
    case 'file':
      return [...(o.realtime ? ['-re'] : []), ...(o.loop ? ['-stream_loop', '-1'] : [])];
    case 'rtsp':
      // ffmpeg 4.x: -stimeout is the TCP socket I/O timeout in microseconds (-timeout means "listen").
      return ['-rtsp_transport', o.rtspTransport, '-stimeout', ioTimeoutUs];
    case 'http':
      return [
        '-reconnect', '1',
        '-reconnect_streamed', '1',
        '-reconnect_delay_max', '2',
        '-rw_timeout', ioTimeoutUs,
      ];
    case 'v4l2':
      return ['-f', 'v4l2'];
  }
}

/** The -vf chain: optional rate cap first (fewer frames to scale), then scale, then showinfo. */
export function videoFilter(o: Pick<FfmpegArgsOptions, 'width' | 'height' | 'maxFps' | 'showinfo'>): string {
  const chain: string[] = [];
  if (o.maxFps !== null) chain.push(`fps=fps=${o.maxFps}`);
  chain.push(`scale=${o.width}:${o.height}:flags=bilinear`);
  if (o.showinfo) chain.push('showinfo=checksum=0');
  return chain.join(',');
}

export function buildFfmpegArgs(o: FfmpegArgsOptions): string[] {
  if (!Number.isInteger(o.width) || o.width <= 0 || !Number.isInteger(o.height) || o.height <= 0) {
    throw new RangeError(`ffmpeg output size must be positive integers, got ${o.width}x${o.height}`);
  }
  if (o.maxFps !== null && !(o.maxFps > 0)) throw new RangeError(`maxFps must be > 0 or null, got ${o.maxFps}`);
  const threads = o.threads ?? FFMPEG_DEFAULT_THREADS;
  if (!Number.isInteger(threads) || threads < 0) throw new RangeError(`threads must be an integer >= 0, got ${threads}`);
  return [
    '-nostdin',
    '-hide_banner',
    '-nostats',
    // `level+` prefixes every line with [info]/[warning]/[error] so the logger can map levels.
    '-loglevel', o.showinfo ? 'level+info' : 'level+warning',
    // Before -i: it sets the decoder's threads. Left out at 0, so the command line stays ffmpeg's default.
    ...(threads > 0 ? ['-threads', String(threads)] : []),
    ...inputOptions(o),
    '-i', o.source.input,
    '-map', '0:v:0',
    '-an', '-sn', '-dn',
    '-vf', videoFilter(o),
    // rawvideo would default to CFR sync (duplicating/dropping frames); passthrough keeps 1:1 with the filter output.
    '-vsync', 'passthrough',
    '-f', 'rawvideo',
    '-pix_fmt', 'rgb24',
    'pipe:1',
  ];
}
