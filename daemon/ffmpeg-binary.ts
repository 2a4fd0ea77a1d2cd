/**
 * Which ffmpeg decodes the cameras (docs/security.md, "the decoder"): `ffmpeg.path` when set;
 * else the distribution's /usr/bin/ffmpeg when it runs and is version 5 or newer (Debian 12 ships
 * 5.1 with security updates: it parses untrusted camera streams); else the binary bundled by
 * @ffmpeg-installer (a static 2018 build, 4.1), so a bare install still works. Decided once at
 * start, and logged with the version.
 */
import { execFileSync } from 'node:child_process';

export const SYSTEM_FFMPEG = '/usr/bin/ffmpeg';
/** Oldest system ffmpeg preferred over the bundled one. */
export const MIN_SYSTEM_FFMPEG_MAJOR = 5;

export interface FfmpegChoice {
  readonly path: string;
  /** `ffmpeg -version`'s version field; null when it did not run. */
  readonly version: string | null;
  readonly source: 'config' | 'system' | 'bundled';
  /** Why the system binary was passed over (null when chosen or not looked at). */
  readonly systemSkipped: string | null;
}

/** `ffmpeg version 5.1.6-0+deb12u1 Copyright …` → version and major (null for git builds: `N-47683-g…`). */
export function parseFfmpegVersion(text: string): { readonly version: string; readonly major: number | null } | null {
  const m = /^ffmpeg version (\S+)/m.exec(text);
  if (m === null) return null;
  const version = m[1] as string;
  const major = /^n?(\d+)\./.exec(version);
  return { version, major: major === null ? null : Number(major[1]) };
}

/** The version of the ffmpeg at `path`, or null when it does not run (within 5 s). */
export function ffmpegVersion(path: string): ReturnType<typeof parseFfmpegVersion> {
  try {
    return parseFfmpegVersion(execFileSync(path, ['-hide_banner', '-version'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] }));
  } catch {
    return null;
  }
}

export function chooseFfmpeg(
  configured: string | null,
  bundled: () => string,
  system: string = SYSTEM_FFMPEG,
  minMajor: number = MIN_SYSTEM_FFMPEG_MAJOR,
): FfmpegChoice {
  if (configured !== null) return { path: configured, version: ffmpegVersion(configured)?.version ?? null, source: 'config', systemSkipped: null };
  const sys = ffmpegVersion(system);
  let skipped: string;
  if (sys === null) skipped = `${system} not found or does not run`;
  else if (sys.major === null || sys.major < minMajor) skipped = `${system} is version ${sys.version}, expected ${minMajor} or newer`;
  else return { path: system, version: sys.version, source: 'system', systemSkipped: null };
  const path = bundled();
  return { path, version: ffmpegVersion(path)?.version ?? null, source: 'bundled', systemSkipped: skipped };
}
