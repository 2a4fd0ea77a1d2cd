/** What every bench process reads alike: the config (with --model), the clip, the daemon's ffmpeg, the model's input size. */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { loadConfigFile } from '../daemon/config/load.js';
import type { SegdConfig } from '../daemon/config/schema.js';
import { chooseFfmpeg } from '../daemon/ffmpeg-binary.js';
import { defaultCardPath, readModelCard } from '../pipeline/engine/index.js';
import { parseSourceUrl } from '../pipeline/sources/index.js';

/** The config file, with `model` (resolved against the working directory) in place of its model. */
export function loadBenchConfig(configPath: string, model?: string): SegdConfig {
  const cfg = loadConfigFile(configPath);
  if (!model) return cfg;
  if (!existsSync(model)) throw new Error(`bench: --model ${model}: no such file (expected an .onnx with its card beside it)`);
  return { ...cfg, model: { ...cfg.model, path: resolve(model), card: null } };
}

/** The clip to play: `clip`, else the config's first file stream. */
export function clipPath(cfg: SegdConfig, clip?: string): string {
  if (clip) return clip;
  for (const s of cfg.streams) {
    const parsed = parseSourceUrl(s.url);
    if (parsed.kind === 'file') return parsed.input;
  }
  throw new Error('bench: no file stream in the config; pass --clip FILE');
}

/** The ffmpeg the daemon would pick (daemon/ffmpeg-binary.ts), so bare decode runs the same binary. */
export function benchFfmpeg(cfg: SegdConfig): string {
  return chooseFfmpeg(cfg.ffmpeg.path, () => (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path).path;
}

export function cardPath(cfg: SegdConfig): string {
  return cfg.model.card ?? defaultCardPath(cfg.model.path);
}

/** The model's input size and id, from its card. */
export async function modelInput(cfg: SegdConfig): Promise<{ width: number; height: number; name: string }> {
  const card = await readModelCard(cardPath(cfg));
  return { width: card.input.width, height: card.input.height, name: card.name };
}
