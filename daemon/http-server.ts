/**
 * The daemon's HTTP surface on node:http (no framework): /healthz, /readyz, /metrics, the
 * WebSocket upgrade at /ws handed to the publisher, and the control API under /api/ (its own
 * router, every method). Every other path is a JSON 404, and every method but GET (and HEAD, its
 * body-less twin) a 405.
 */
import http, { type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { StreamState } from '../pipeline/core/reasons.js';
import { refuseUpgrade } from '../pipeline/publish/refuse-upgrade.js';
import type { AuthFailure, RequestAuth } from './auth.js';
import { nonJsonBody, type OriginPolicy } from './origin-check.js';

export const WS_PATH = '/ws';
/** The control API's paths (daemon/api/api-routes.ts). */
export const API_PATH_PREFIX = '/api/';

export interface StreamReadiness {
  readonly id: string;
  readonly state: StreamState;
}

/** What /readyz reports. Ready = model loaded and warmed; streams are informational (a dead camera is not a dead daemon). */
export interface ReadyState {
  readonly modelLoaded: boolean;
  readonly modelWarmed: boolean;
  /** Why the serving engine cannot infer now (triton: server unreachable, model not ready); null or absent = it can. */
  readonly inferenceUnavailable?: string | null;
  readonly streams: readonly StreamReadiness[];
}

/** The parts of SegdMetrics the server uses. */
export interface MetricsEndpoint {
  readonly contentType: string;
  render(): Promise<string>;
}

/** The parts of WsPublisher the server uses. */
export interface UpgradeTarget {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): Promise<void>;
}

export interface HttpServerOptions {
  readonly metrics: MetricsEndpoint;
  readonly readiness: () => ReadyState;
  readonly publisher?: UpgradeTarget;
  readonly logger: Logger;
  /** Extra GET routes by exact path (e.g. a viewer page); the built-in paths win. */
  readonly routes?: ReadonlyMap<string, RequestListener>;
  /** Every request under API_PATH_PREFIX, any method (daemon/api); after the token check. */
  readonly api?: RequestListener;
  /**
   * Bearer-token check for every route and the WebSocket upgrade, except /healthz (a liveness
   * probe that reveals nothing); null/absent = open.
   */
  readonly auth?: RequestAuth | null;
  /** Called once per request or upgrade refused with 401 (metrics). */
  readonly onUnauthorized?: () => void;
  /** Cross-site check for /api/ and the WebSocket upgrade (daemon/origin-check.ts); absent = none. */
  readonly origins?: OriginPolicy;
  /** server.maxConnections: open TCP connections at most (WebSocket clients included). */
  readonly maxConnections?: number;
}

/** Whole request headers must arrive within this (slowloris). */
export const HEADERS_TIMEOUT_MS = 10_000;
/** A whole request (headers and a body of at most 64 KiB) within this. */
export const REQUEST_TIMEOUT_MS = 30_000;
/** An idle keep-alive connection is closed after this. */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_CONNECTIONS = 256;

/** The one path open without a token: probes (systemd, load balancers) must not need the secret. */
export const OPEN_PATH = '/healthz';

export interface SegdHttpServer {
  readonly server: http.Server;
  /** Resolves with the bound address (port 0 = ephemeral); rejects naming host:port on failure. */
  listen(host: string, port: number): Promise<AddressInfo>;
  /** Closes the publisher's clients (1001) and the server, cutting idle keep-alive connections. Idempotent. */
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown, extraHeaders: http.OutgoingHttpHeaders = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...extraHeaders,
  });
  res.end(text);
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** A path echoed in an error body, cut short. */
function shown(path: string): string {
  return path.length > 200 ? `${path.slice(0, 197)}...` : path;
}

export function createHttpServer(opts: HttpServerOptions): SegdHttpServer {
  const log = opts.logger;
  const auth = opts.auth ?? null;
  /** The refusal for a request that needs the token and lacks it; null when it may go on. */
  const refusal = (req: IncomingMessage, path: string): AuthFailure | null => {
    if (auth === null || path === OPEN_PATH) return null;
    const failure = auth.check(req);
    if (failure !== null) {
      opts.onUnauthorized?.();
      // Debug, not info: a scan must not flood the log (segd_requests_refused_total counts them).
      // The URL is not logged: it may carry the (wrong) token.
      log.debug({ remote: req.socket.remoteAddress, path: shown(path) }, `unauthorized request: ${failure.message}`);
    }
    return failure;
  };
  const challenge = { 'www-authenticate': 'Bearer realm="segd"' };
  /** A cross-site /api/ request or upgrade: refused with 403 and logged (a browser page tried to reach us). */
  const crossSite = (req: IncomingMessage, path: string): { error: string; message: string } | null => {
    const why = opts.origins?.crossSite(req) ?? null;
    if (why === null) return null;
    log.warn({ remote: req.socket.remoteAddress, path: shown(path), origin: String(req.headers.origin).slice(0, 200) }, `cross-site request refused: ${why}`);
    return { error: 'cross_origin', message: `${why}; expected a same-origin request (server.allowedOrigins lists others)` };
  };
  const builtIn = new Map<string, RequestListener>([
    ['/healthz', (_req, res) => sendJson(res, 200, { status: 'ok' })],
    ['/readyz', (_req, res) => readyz(res)],
    ['/metrics', (_req, res) => void metrics(res)],
  ]);

  function readyz(res: ServerResponse): void {
    let state: ReadyState;
    try {
      state = opts.readiness();
    } catch (err) {
      log.error({ err }, 'readiness check failed');
      sendJson(res, 503, { status: 'not_ready', error: 'readiness check failed; see the daemon log' });
      return;
    }
    const unavailable = state.inferenceUnavailable ?? null;
    const ready = state.modelLoaded && state.modelWarmed && unavailable === null;
    sendJson(res, ready ? 200 : 503, {
      status: ready ? 'ready' : 'not_ready',
      model: { loaded: state.modelLoaded, warmed: state.modelWarmed },
      ...(unavailable !== null ? { inference: { available: false, reason: unavailable } } : {}),
      streams: state.streams.map((s) => ({ id: s.id, state: s.state })),
    });
  }

  async function metrics(res: ServerResponse): Promise<void> {
    try {
      const text = await opts.metrics.render();
      res.writeHead(200, { 'content-type': opts.metrics.contentType, 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
      res.end(text);
    } catch (err) {
      log.error({ err }, 'metrics rendering failed');
      sendJson(res, 500, { error: 'metrics_failed', message: 'metrics rendering failed; see the daemon log' });
    }
  }

  // Idle, slow or half-sent requests (no token needed to open a connection) hold a socket only this long.
  const server = http.createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, (req, res) => {
    const path = pathOf(req);
    const denied = refusal(req, path);
    if (denied !== null) {
      sendJson(res, 401, denied, challenge);
      return;
    }
    if (opts.api !== undefined && path.startsWith(API_PATH_PREFIX)) {
      const foreign = crossSite(req, path);
      if (foreign !== null) {
        sendJson(res, 403, foreign);
        return;
      }
      const media = nonJsonBody(req);
      if (media !== null) {
        req.resume();
        sendJson(res, 415, { error: 'unsupported_media_type', message: `${req.method ?? '?'} ${shown(path)}: ${media}` });
        return;
      }
      opts.api(req, res);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'method_not_allowed', message: `${req.method ?? '?'} ${shown(path)}: only GET is supported` }, { allow: 'GET, HEAD' });
      return;
    }
    const route = builtIn.get(path) ?? opts.routes?.get(path);
    if (route === undefined) {
      sendJson(res, 404, { error: 'not_found', message: `no route ${shown(path)}; expected one of /healthz, /readyz, /metrics, ${WS_PATH} (WebSocket)${opts.api !== undefined ? `, ${API_PATH_PREFIX}… (control API)` : ''}${opts.routes?.has('/') ? ', / (viewer page)' : ''}` });
      return;
    }
    route(req, res);
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', (err) => log.debug({ err }, 'upgrade socket error'));
    const denied = refusal(req, pathOf(req));
    if (denied !== null) {
      refuseUpgrade(socket, 401, denied, { 'WWW-Authenticate': 'Bearer realm="segd"' });
      return;
    }
    if (pathOf(req) === WS_PATH && opts.publisher) {
      const foreign = crossSite(req, WS_PATH);
      if (foreign !== null) {
        refuseUpgrade(socket, 403, foreign);
        return;
      }
      opts.publisher.handleUpgrade(req, socket, head);
      return;
    }
    refuseUpgrade(socket, 404, { error: 'not_found', message: `no WebSocket endpoint at ${shown(pathOf(req))}; expected ${WS_PATH}` });
  });

  // Connections beyond this are dropped at accept: WebSocket clients (publish.maxClients) plus room for API calls.
  server.maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;

  let closing: Promise<void> | null = null;

  return {
    server,
    listen(host: string, port: number): Promise<AddressInfo> {
      return new Promise((resolve, reject) => {
        const onError = (err: Error): void => {
          reject(new Error(`http server: cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
        };
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          const addr = server.address() as AddressInfo;
          log.info({ host: addr.address, port: addr.port }, 'http server listening');
          resolve(addr);
        });
      });
    },
    close(): Promise<void> {
      if (closing) return closing;
      closing = (async () => {
        // WebSocket sockets count as server connections: close them first or server.close() waits on them.
        if (opts.publisher) await opts.publisher.close();
        if (!server.listening) return;
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
      })();
      return closing;
    },
  };
}
