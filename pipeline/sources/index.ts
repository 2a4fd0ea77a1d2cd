/** ffmpeg-backed stream sources: the public surface used by the daemon. */
export { FfmpegSource } from './ffmpeg-source.js';
export type { FfmpegSourceOptions, SourceObserver, SourceStats } from './ffmpeg-source.js';
export { parseSourceUrl } from './source-url.js';
export type { ParsedSource, SourceKind } from './source-url.js';
export { buildFfmpegArgs, videoFilter } from './ffmpeg-args.js';
export type { FfmpegArgsOptions } from './ffmpeg-args.js';
export { FramePool } from './frame-pool.js';
export type { PoolSlot } from './frame-pool.js';
export { FrameCutter } from './frame-cutter.js';
export type { CutterSink } from './frame-cutter.js';
export { PtsMatcher } from './pts-matcher.js';
export { FfmpegStderr } from './ffmpeg-stderr.js';
export { PooledFrame } from './pooled-frame.js';
export { pacingOf } from './pacing.js';
export type { Pacing } from './pacing.js';
