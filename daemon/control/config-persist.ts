/**
 * `api.persist`: what the API changed (streams, model) is written back to the config file, so it
 * outlasts a restart. The file is edited, not regenerated: only `streams` and `model.path`/`card`
 * are replaced, every other key and comment stays (the resolved token is never written). Atomic:
 * a temp file beside it is written, flushed to disk and renamed over it, so a crash leaves the old
 * file or the new one, never half of one. Writes never overlap; calls made during a write
 * coalesce into one more write of the latest state.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { parseDocument } from 'yaml';
import type { StreamConfig } from '../../pipeline/core/stream-config.js';
import type { ModelChoice } from './model-swap.js';

export interface PersistedState {
  readonly streams: readonly StreamConfig[];
  readonly model: ModelChoice;
}

export class ConfigPersister {
  private latest: PersistedState | null = null;
  /** The write not started yet (it takes `latest` when it starts); at most one. */
  private next: Promise<void> | null = null;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string,
    private readonly logger: Logger,
  ) {}

  /** Resolves once a write holding `state` (or a later state) is on disk; rejects naming the file. */
  persist(state: PersistedState): Promise<void> {
    this.latest = state;
    this.next ??= this.chain.then(() => {
      this.next = null;
      return this.writeNow(this.latest as PersistedState);
    });
    const write = this.next;
    this.chain = write.catch(() => undefined);
    return write;
  }

  private async writeNow(state: PersistedState): Promise<void> {
    const text = await readFile(this.path, 'utf8');
    const doc = parseDocument(text);
    doc.setIn(['model', 'path'], state.model.path);
    doc.setIn(['model', 'card'], state.model.card);
    doc.set('streams', doc.createNode(state.streams.map((s) => ({ ...s }))));
    const tmp = join(dirname(this.path), `.${basename(this.path)}.${process.pid}.tmp`);
    try {
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(doc.toString());
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw new Error(`cannot write the config file ${this.path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    this.logger.info({ config: this.path, streams: state.streams.length }, 'config file updated (api.persist)');
  }
}
