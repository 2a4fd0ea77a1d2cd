/**
 * Refuses an HTTP upgrade on the raw socket (no ServerResponse exists for an upgrade): a complete
 * HTTP/1.1 reply with `Connection: close`, then the socket is let go of. Used wherever an upgrade
 * is turned away: 401 (token), 404 (path), 503 (model still loading, publisher closing).
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** `body` (if not null) goes out as JSON; `headers` are extra header lines (e.g. WWW-Authenticate). */
export function refuseUpgrade(socket: Duplex, status: number, body: unknown = null, headers: Readonly<Record<string, string>> = {}): void {
  const text = body === null ? '' : JSON.stringify(body);
  const lines = [`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Refused'}`, 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (text !== '') lines.push('Content-Type: application/json; charset=utf-8');
  lines.push(`Content-Length: ${Buffer.byteLength(text)}`);
  // end() only half-closes: once the reply is flushed, let go of the socket instead of waiting on the client.
  socket.once('finish', () => socket.destroy());
  socket.end(`${lines.join('\r\n')}\r\n\r\n${text}`);
}
