/**
 * Cross-site requests (docs/security.md): a web page in a browser on this host (or the LAN) can
 * send requests to the daemon, and browsers do not stop a "simple" cross-origin POST or a
 * WebSocket upgrade from reaching it. Browsers always send `Origin` on both; requests whose Origin
 * is neither this server's own (the `Host` it was reached by) nor in `server.allowedOrigins` are
 * refused. Requests without Origin (curl, clients, probes) are not browsers' and go on to the token
 * check. API writes must also be `application/json`, which a page cannot send cross-site without
 * a CORS preflight, which segd never answers.
 *
 * DNS rebinding (a page on evil.example whose name then resolves to 127.0.0.1) makes the page
 * same-origin with the daemon: Origin and Host agree. On a daemon bound to loopback, the Host of
 * an /api/ or /ws request must therefore name loopback (localhost, 127.x, [::1]) or an allowed
 * origin's host, with or without an Origin header.
 */
import type { IncomingMessage } from 'node:http';

export interface OriginPolicy {
  /** Why `req` is refused as cross-site; null when it may go on. */
  crossSite(req: IncomingMessage): string | null;
}

/** `localhost`, `*.localhost`, 127.0.0.0/8 or ::1, with or without a port. */
function isLoopbackHost(host: string): boolean {
  let name: string;
  try {
    name = new URL(`http://${host}`).hostname;
  } catch {
    return false;
  }
  return name === 'localhost' || name.endsWith('.localhost') || name === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(name);
}

export function createOriginPolicy(allowedOrigins: readonly string[], opts: { readonly loopbackOnly?: boolean } = {}): OriginPolicy {
  const any = allowedOrigins.includes('*');
  const allowed = new Set(allowedOrigins.map((o) => o.toLowerCase().replace(/\/+$/, '')));
  const allowedHosts = new Set(
    allowedOrigins.flatMap((o) => {
      try {
        return [new URL(o).host.toLowerCase()];
      } catch {
        return [];
      }
    }),
  );
  return {
    crossSite(req) {
      const hostHeader = (req.headers.host ?? '').toLowerCase();
      if (opts.loopbackOnly === true && !any && hostHeader !== '' && !isLoopbackHost(hostHeader) && !allowedHosts.has(hostHeader)) {
        return `Host ${hostHeader.slice(0, 100)} does not name this loopback server (a DNS-rebound page?); expected localhost, 127.x or [::1]`;
      }
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
