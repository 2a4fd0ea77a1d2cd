/**
 * Shared test paths. Tests run compiled from dist/test/**, so the repo root is found by walking up
 * from this file to the first package.json rather than by a fixed number of `..`.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`test/helpers/paths: no package.json above ${start}`);
    dir = parent;
  }
}

/** Repository root (the directory holding package.json). */
export const REPO_ROOT: string = findRepoRoot(dirname(fileURLToPath(import.meta.url)));

/** Shared read-only data: env SEGD_SHARED, else `../shared` beside the repo (as CI lays it out). */
export const SHARED_DIR: string = resolve(process.env['SEGD_SHARED'] ?? join(REPO_ROOT, '..', 'shared'));

export const SHARED_DATA_DIR: string = join(SHARED_DIR, 'data');
export const CAMVID_DIR: string = join(SHARED_DATA_DIR, 'camvid');
export const VIDEOS_DIR: string = join(SHARED_DATA_DIR, 'videos');

/** The sample clip bundled in the repository (config/samples/): unit tests use it, since they must not
 *  need ../shared. The same 100-frame CamVid val sequence as SAMPLE_CLIP_VAL. */
export const BUNDLED_SAMPLE_CLIP: string = join(REPO_ROOT, 'config', 'samples', 'camvid-0016E5-val.mp4');

/** 100 frames, 10 fps, 480x360, H.264. */
export const SAMPLE_CLIP_VAL: string = join(VIDEOS_DIR, 'camvid-0016E5-val.mp4');
/** 101 frames, 480x360, H.264. */
export const SAMPLE_CLIP_TRAIN: string = join(VIDEOS_DIR, 'camvid-0006R0-train.mp4');
export const SAMPLE_CLIP_WIDTH = 480;
export const SAMPLE_CLIP_HEIGHT = 360;

/** The static ffmpeg 4.x shipped by @ffmpeg-installer/ffmpeg (resolved the same way the daemon does). */
export const FFMPEG_PATH: string = (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;

/** Debian's python3 (has python3-gi + GstRtspServer); not a venv python. */
export const SYSTEM_PYTHON = '/usr/bin/python3';
