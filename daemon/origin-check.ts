/**
 * Cross-site requests (docs/security.md): a web page in a browser on this host (or the LAN) can
 * send requests to the daemon, and browsers do not stop a "simple" cross-origin POST or a
 * WebSocket upgrade from reaching it. Browsers always send `Origin` on both; requests whose Origin
 * is neither this server's own (the `Host` it was reached by) nor in `server.allowedOrigins` are
 * refused. Requests without Origin (curl, clients, probes) are not browsers' and go on to the token
 * check. API writes must also be `application/json`, which a page cannot send cross-site without
 * a CORS preflight, which segd never answers.
 */
import type { IncomingMessage } from 'node:http';

export interface OriginPolicy {
  /** Why `req` is refused as cross-site; null when it may go on. */
  crossSite(req: IncomingMessage): string | null;
}

export function createOriginPolicy(allowedOrigins: readonly string[]): OriginPolicy {
  const any = allowedOrigins.includes('*');
  const allowed = new Set(allowedOrigins.map((o) => o.toLowerCase().replace(/\/+$/, '')));
  return {
    crossSite(req) {
      const origin = req.headers.origin;
      if (origin === undefined) return null;
      if (any || allowed.has(origin.toLowerCase())) return null;
      let host: string;
      try {
        host = new URL(origin).host;
      } catch {
        return `Origin ${JSON.stringify(origin.slice(0, 100))} is not a URL`;
      }
      if (host !== '' && host === (req.headers.host ?? '').toLowerCase()) return null;
      return `Origin ${origin.slice(0, 100)} is neither this server (${(req.headers.host ?? '?').slice(0, 100)}) nor in server.allowedOrigins`;
    },
  };
}

/** Methods that change something: their bodies must be JSON. */
const WRITES = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Why an API request's body is refused for its media type; null when fine (JSON, or no body). */
export function nonJsonBody(req: IncomingMessage): string | null {
  if (!WRITES.has(req.method ?? '')) return null;
  const hasBody = (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0') || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) return null;
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' ? null : `Content-Type ${JSON.stringify(type.slice(0, 100))}; expected application/json`;
}
