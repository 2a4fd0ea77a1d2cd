/**
 * Stream URL parsing: which kind of source a config URL is, and what ffmpeg gets as `-i`.
 * Errors name the field and the redacted URL, never the raw one.
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SegdError } from '../core/errors.js';
import { redactUrl } from '../core/redact.js';

export type SourceKind = 'file' | 'rtsp' | 'http' | 'v4l2';

export interface ParsedSource {
  readonly kind: SourceKind;
  /** What ffmpeg receives after `-i` (may carry credentials: never log it). */
  readonly input: string;
  /** The URL with credentials redacted, for logs and errors. */
  readonly redacted: string;
  /** http(s) URL whose path ends in .m3u8. */
  readonly hls: boolean;
}

const EXPECTED =
  'expected file:///abs/path, a file path, rtsp://, rtsps://, http://, https:// or v4l2:///dev/videoN';
const SCHEME_RE = /^([a-z][a-z0-9+.-]*):/i;
const V4L2_DEVICE_RE = /^\/dev\/(video\d+|v4l\/by-(id|path)\/[^/]+)$/;

function invalid(field: string, url: string, why: string, cause?: unknown): SegdError {
  const shown = redactUrl(url);
  return new SegdError(
    'SEGD_SOURCE_URL_INVALID',
    `${field}: ${why} in "${shown}" (${EXPECTED})`,
    [field, shown, why],
    cause === undefined ? undefined : { cause },
  );
}

function parseUrl(field: string, url: string): URL {
  try {
    return new URL(url);
  } catch (err) {
    throw invalid(field, url, 'not a parsable URL', err);
  }
}

/**
 * Classifies a stream URL. `field` names where it came from (e.g. `streams[cam1].url`) so the
 * error points at the culprit. Throws SegdError('SEGD_SOURCE_URL_INVALID').
 */
export function parseSourceUrl(url: string, field = 'url'): ParsedSource {
  if (typeof url !== 'string' || url.trim() === '') throw invalid(field, String(url), 'empty URL');
  if (url !== url.trim()) throw invalid(field, url, 'leading or trailing whitespace');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(url)) throw invalid(field, url, 'control characters');
  const redacted = redactUrl(url);
  const scheme = SCHEME_RE.exec(url)?.[1]?.toLowerCase();

  if (scheme === undefined) {
    // A plain path. `file:` prefix so ffmpeg never reads a path as a protocol name.
    const path = isAbsolute(url) ? url : resolve(url);
    return { kind: 'file', input: `file:${path}`, redacted: redactUrl(path), hls: false };
  }
  switch (scheme) {
    case 'file': {
      let path: string;
      try {
        path = fileURLToPath(url);
      } catch (err) {
        throw invalid(field, url, 'file URL must be file:///absolute/path (no host)', err);
      }
      return { kind: 'file', input: `file:${path}`, redacted: redactUrl(path), hls: false };
    }
    case 'rtsp':
    case 'rtsps': {
      const u = parseUrl(field, url);
      if (u.hostname === '') throw invalid(field, url, 'missing host');
      return { kind: 'rtsp', input: url, redacted, hls: false };
    }
    case 'http':
    case 'https': {
      const u = parseUrl(field, url);
      if (u.hostname === '') throw invalid(field, url, 'missing host');
      return { kind: 'http', input: url, redacted, hls: u.pathname.toLowerCase().endsWith('.m3u8') };
    }
    case 'v4l2': {
      const u = parseUrl(field, url);
      if (u.host !== '') throw invalid(field, url, 'v4l2 URL takes no host (v4l2:///dev/videoN)');
      const device = decodeURIComponent(u.pathname);
      if (!V4L2_DEVICE_RE.test(device)) throw invalid(field, url, `"${device}" is not a video device path`);
      return { kind: 'v4l2', input: device, redacted, hls: false };
    }
    default:
      throw invalid(field, url, `unsupported scheme "${scheme}:"`);
  }
}
