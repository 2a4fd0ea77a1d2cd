/**
 * Optional bearer token for the HTTP routes and the WebSocket upgrade. Accepted as
 * `Authorization: Bearer <token>` or, for browsers (which cannot set headers on a WebSocket or an
 * <img>), as a `?token=<token>` query parameter. Compared in constant time: both sides are
 * hashed to SHA-256 first, so neither the content nor the length of the token leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** A refused request: HTTP 401 with this JSON body. */
export interface AuthFailure {
  readonly error: 'unauthorized';
  readonly message: string;
}

export interface RequestAuth {
  /** null when the request carries the token, else why not (for the 401 body). */
  check(req: IncomingMessage): AuthFailure | null;
}

/** Shortest token accepted: short tokens are guessable over the network. */
export const MIN_TOKEN_LENGTH = 16;

const EXPECTED = "expected an 'Authorization: Bearer <token>' header or a '?token=<token>' query parameter";

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The token the request presents: the Authorization header wins over the query parameter. */
export function presentedToken(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    return m === null ? '' : (m[1] ?? '');
  }
  const url = req.url ?? '';
  const q = url.indexOf('?');
  if (q === -1) return null;
  return new URLSearchParams(url.slice(q + 1)).get('token');
}

/** null token = no authentication (every request passes, nothing is allocated per request). */
export function createRequestAuth(token: string | null): RequestAuth | null {
  if (token === null) return null;
  const expected = digest(token);
  return {
    check(req: IncomingMessage): AuthFailure | null {
      const given = presentedToken(req);
      if (given === null) return { error: 'unauthorized', message: `missing bearer token; ${EXPECTED}` };
      if (given === '') return { error: 'unauthorized', message: `malformed Authorization header; ${EXPECTED}` };
      if (!timingSafeEqual(digest(given), expected)) {
        return { error: 'unauthorized', message: 'wrong bearer token; expected the token set in server.token, server.tokenFile or SEGD_TOKEN' };
      }
      return null;
    },
  };
}

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback: bound there, only this machine can connect. */
export function isLoopbackAddress(address: string): boolean {
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}
