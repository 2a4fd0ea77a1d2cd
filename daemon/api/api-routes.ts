/**
 * The runtime control API under /api/ (docs/running.md, "Runtime control"): JSON in and out,
 * behind the same bearer token as every other route (the HTTP server checks it first).
 *
 *   GET    /api/streams           every stream with its state and settings (URLs redacted)
 *   POST   /api/streams           add one (body: a stream, as a `streams[]` item of the config)
 *   GET    /api/streams/{id}      one stream
 *   PUT    /api/streams/{id}      replace its settings (only this stream restarts, if anything changed)
 *   PATCH  /api/streams/{id}      change some settings (merged onto the current ones)
 *   DELETE /api/streams/{id}      remove it
 *   GET    /api/model             the serving model
 *   PUT    /api/model             swap it (body: {"path": …, "card": … or null})
 *   POST   /api/reload            re-read the config file (as SIGHUP)
 *
 * Bodies are validated by the config's own stream schema (config/stream-input.ts): one schema, one
 * error format. Errors: api-http.ts.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { SegdError } from '../../pipeline/core/errors.js';
import { redactUrl } from '../../pipeline/core/redact.js';
import { STREAM_ID_PATTERN, type StreamConfig } from '../../pipeline/core/stream-config.js';
import type { SegEngine } from '../../pipeline/engine/index.js';
import { parseStreamInput, problemField } from '../config/stream-input.js';
import type { ReloadResult } from '../control/config-reload.js';
import { ControlError } from '../control/control-error.js';
import type { ModelSwap } from '../control/model-swap.js';
import type { StreamRegistry } from '../control/stream-registry.js';
import type { StreamStatus } from '../stream-status.js';
import { readJsonBody, sendError, sendJson } from './api-http.js';
import { explainRelativePaths, parseModelRequest } from './model-request.js';

export const API_PREFIX = '/api/';

export interface ApiOptions {
  readonly registry: StreamRegistry;
  readonly models: ModelSwap;
  /** A stream's live status, undefined once it is gone. */
  readonly status: (id: string) => StreamStatus | undefined;
  /** Re-reads the config file; null when the daemon runs without one. */
  readonly reload: (() => Promise<ReloadResult>) | null;
  /** api.persist: writes the current streams and model to the config file; null when off. */
  readonly persist: (() => Promise<void>) | null;
  /** Relative stream file paths resolve against it (the config file's directory); model paths against the working directory. */
  readonly baseDir: string;
  /** Directories file streams may be read from (config/load.ts allowedSourceDirs). */
  readonly allowedDirs: readonly string[];
  /** The stream's next frame with its mask and zones, as a JPEG (pipeline/publish/snapshot-sink.ts). */
  readonly snapshot: (id: string, timeoutMs: number) => Promise<Buffer>;
  readonly logger: Logger;
}

/** How long GET /api/streams/:id/snapshot.jpg waits for the stream's next frame. */
export const SNAPSHOT_WAIT_MS = 10_000;

type Handler = (req: IncomingMessage, id: string) => Promise<[number, unknown]>;

const ID_RE = new RegExp(STREAM_ID_PATTERN);

export function apiRoutes(opts: ApiOptions): RequestListener {
  const { registry, models } = opts;

  const streamView = (cfg: StreamConfig): Record<string, unknown> => {
    const s = opts.status(cfg.id);
    return {
      id: cfg.id,
      state: s?.state ?? 'stopped',
      reason: s?.reason ?? 'removed',
      url: redactUrl(cfg.url),
      framesPublished: s?.framesPublished ?? 0,
      drops: s ? { ...s.drops } : {},
      settings: { ...cfg, url: redactUrl(cfg.url) },
    };
  };
  const modelView = (e: SegEngine): Record<string, unknown> => ({
    name: e.card.name,
    architecture: e.card.architecture,
    path: e.modelPath,
    card: e.cardPath,
    provider: e.provider,
    input: { height: e.inputHeight, width: e.inputWidth },
    classes: e.card.classes.length,
  });
  /** After a change: the config file follows when api.persist is on; a failed write does not undo the change. */
  const persisted = async (): Promise<Record<string, unknown>> => {
    if (opts.persist === null) return {};
    try {
      await opts.persist();
      return { persisted: true };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      opts.logger.error({ err }, `api.persist: ${message}`);
      return { persisted: false, persistError: message };
    }
  };
  const streamInput = (body: unknown, source: string): StreamConfig => {
    try {
      return parseStreamInput(body, opts.baseDir, source, opts.allowedDirs);
    } catch (err) {
      if (!(err instanceof SegdError)) throw err;
      const first = err.details[0] ?? err.message;
      throw new ControlError('invalid_stream', problemField(first), 'a stream as in the config file (docs/running.md, "streams")', first, err.details);
    }
  };
  const objectBody = (body: unknown): Record<string, unknown> => {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new ControlError('invalid_stream', null, 'a JSON object', `request body: expected a JSON object, got ${body === undefined ? 'no body' : body === null ? 'null' : Array.isArray(body) ? 'an array' : typeof body}`);
    }
    return body as Record<string, unknown>;
  };
  const withUrlId = (body: Record<string, unknown>, id: string): Record<string, unknown> => {
    if (body['id'] !== undefined && body['id'] !== id) {
      throw new ControlError('invalid_request', 'id', `"${id}" (the id in the URL) or no id`, `id: the body says ${JSON.stringify(body['id'])}, the URL ${id}; a stream's id cannot change (remove it and add another)`);
    }
    return { ...body, id };
  };

  const routes: Record<string, Partial<Record<string, Handler>>> = {
    streams: {
      GET: async () => [200, { streams: registry.list().map(streamView) }],
      POST: async (req) => {
        const cfg = streamInput(objectBody(await readJsonBody(req)), 'stream');
        await registry.add(cfg);
        return [201, { stream: streamView(cfg), ...(await persisted()) }];
      },
    },
    stream: {
      GET: async (_req, id) => {
        const cfg = registry.get(id);
        if (cfg === undefined) throw unknown(id, registry);
        return [200, { stream: streamView(cfg) }];
      },
      PUT: async (req, id) => {
        const cfg = streamInput(withUrlId(objectBody(await readJsonBody(req)), id), `stream ${id}`);
        const r = await registry.replace(cfg);
        return [200, { stream: streamView(r.cfg), changed: r.changed, ...(r.changed ? await persisted() : {}) }];
      },
      PATCH: async (req, id) => {
        const patch = withUrlId(objectBody(await readJsonBody(req)), id);
        // Merged under the stream's lock, so concurrent PATCHes apply one after the other.
        const r = await registry.update(id, (current) => streamInput({ ...current, ...patch }, `stream ${id}`));
        return [200, { stream: streamView(r.cfg), changed: r.changed, ...(r.changed ? await persisted() : {}) }];
      },
      DELETE: async (_req, id) => {
        await registry.remove(id);
        return [200, { removed: id, ...(await persisted()) }];
      },
    },
    model: {
      GET: async () => [200, { model: modelView(models.engine) }],
      PUT: async (req) => {
        // Relative model paths: against the working directory, not the config file's (model-request.ts).
        const raw = await readJsonBody(req);
        const cwd = process.cwd();
        const engine = await models.swap(parseModelRequest(raw, cwd)).catch((err: unknown) => {
          throw explainRelativePaths(err, raw, cwd);
        });
        return [200, { model: modelView(engine), ...(await persisted()) }];
      },
    },
    reload: {
      POST: async () => {
        if (opts.reload === null) throw new ControlError('reload_unavailable', null, 'a daemon started with --config FILE', 'the daemon runs without a config file to re-read');
        return [200, { reload: await opts.reload() }];
      },
    },
  };

  const serveSnapshot = (req: IncomingMessage, res: ServerResponse, id: string): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendError(res, new ControlError('method_not_allowed', null, 'GET', `${req.method ?? '?'} ${req.url ?? ''}: expected GET`), { allow: 'GET' });
      return;
    }
    if (!ID_RE.test(id) || registry.get(id) === undefined) {
      sendError(res, ID_RE.test(id) ? unknown(id, registry) : new ControlError('invalid_request', 'id', `a stream id matching ${STREAM_ID_PATTERN}`, `id: ${JSON.stringify(id.slice(0, 80))} is not a stream id`));
      return;
    }
    opts.snapshot(id, SNAPSHOT_WAIT_MS).then(
      (jpeg) => {
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': jpeg.length, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : jpeg);
      },
      (err: unknown) => {
        const reason = (err as { reason?: string }).reason;
        const message = err instanceof Error ? err.message : String(err);
        if (reason === 'busy') sendError(res, new ControlError('busy', null, 'fewer snapshot requests at once', message));
        else if (reason === 'gone') sendError(res, unknown(id, registry));
        else if (reason === 'closed') sendError(res, new ControlError('stopping', null, 'a running daemon', message));
        else sendError(res, new ControlError('not_ready', null, `a frame of stream ${id} (is it streaming? GET /api/streams/${id})`, message));
      },
    );
  };

  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const rest = path.slice(API_PREFIX.length);
    let route: string;
    let id = '';
    const snap = /^streams\/([^/]+)\/snapshot\.jpg$/.exec(rest);
    if (snap !== null) {
      serveSnapshot(req, res, safeDecode(snap[1] ?? ''));
      return;
    }
    const m = /^streams\/([^/]+)$/.exec(rest);
    if (rest === 'streams' || rest === 'model' || rest === 'reload') route = rest;
    else if (m !== null) {
      route = 'stream';
      id = safeDecode(m[1] ?? '');
    } else {
      sendError(res, new ControlError('not_found', null, 'one of /api/streams, /api/streams/{id}, /api/streams/{id}/snapshot.jpg, /api/model, /api/reload', `no API route ${path.slice(0, 200)}`));
      return;
    }
    const handlers = routes[route] ?? {};
    const handler = handlers[req.method ?? ''];
    if (handler === undefined) {
      const allow = Object.keys(handlers).join(', ');
      sendError(res, new ControlError('method_not_allowed', null, allow, `${req.method ?? '?'} ${path}: expected ${allow}`), { allow });
      return;
    }
    if (route === 'stream' && !ID_RE.test(id)) {
      sendError(res, new ControlError('invalid_request', 'id', `a stream id matching ${STREAM_ID_PATTERN}`, `id: ${JSON.stringify(id.slice(0, 80))} is not a stream id`));
      return;
    }
    handler(req, id).then(
      ([status, body]) => sendJson(res, status, body),
      (err: unknown) => {
        if (err instanceof ControlError) {
          opts.logger.info({ method: req.method, path, code: err.code }, `api: ${err.message}`);
          sendError(res, err);
          return;
        }
        opts.logger.error({ err, method: req.method, path }, 'api request failed');
        sendJson(res, 500, { error: 'internal_error', field: null, expected: 'the request to succeed', message: 'internal error; see the daemon log', problems: [] });
      },
    );
  };
}

function unknown(id: string, registry: StreamRegistry): ControlError {
  return new ControlError('unknown_stream', 'id', `one of: ${registry.list().map((s) => s.id).join(', ')}`, `no stream ${id}`);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
