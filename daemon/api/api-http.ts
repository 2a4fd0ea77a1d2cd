/**
 * JSON in and out for the control API: a bounded body reader and the error body, the same shape
 * as the WebSocket protocol's `error` (code, field, expected, message) plus `problems`, one line
 * per violation, worded as config file errors are.
 */
import type { IncomingMessage, ServerResponse, OutgoingHttpHeaders } from 'node:http';
import { MAX_JSON_DEPTH, parseBoundedJson } from '../../pipeline/core/bounded-json.js';
import { ControlError, type ControlErrorCode } from '../control/control-error.js';

/** A request body above this is refused (413) unread: a stream or a model choice is a few hundred bytes. */
export const MAX_API_BODY_BYTES = 64 * 1024;

export const STATUS_OF: Readonly<Record<ControlErrorCode, number>> = {
  invalid_json: 400,
  invalid_request: 400,
  invalid_stream: 400,
  invalid_config: 400,
  body_too_large: 413,
  unknown_stream: 404,
  not_found: 404,
  method_not_allowed: 405,
  stream_exists: 409,
  too_many_streams: 409,
  last_stream: 409,
  busy: 429,
  model_rejected: 422,
  reload_unavailable: 409,
  not_ready: 503,
  stopping: 503,
};

export interface ApiErrorBody {
  readonly error: ControlErrorCode;
  readonly field: string | null;
  readonly expected: string;
  readonly message: string;
  readonly problems: readonly string[];
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

export function sendError(res: ServerResponse, err: ControlError, headers: OutgoingHttpHeaders = {}): void {
  const body: ApiErrorBody = { error: err.code, field: err.field, expected: err.expected, message: err.message, problems: err.problems };
  sendJson(res, STATUS_OF[err.code], body, err.code === 'busy' ? { 'retry-after': '1', ...headers } : headers);
}

/** The request's JSON body; ControlError `body_too_large` / `invalid_json`. An empty body is `undefined`. */
export function readJsonBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    const tooLarge = (): ControlError =>
      new ControlError('body_too_large', null, `a JSON body of at most ${MAX_API_BODY_BYTES} bytes`, `request body over ${MAX_API_BODY_BYTES} bytes`);
    if (declared > MAX_API_BODY_BYTES) {
      req.resume(); // discard, do not buffer
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > MAX_API_BODY_BYTES) {
        refused = true;
        chunks.length = 0;
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', (err) => reject(err));
    req.on('end', () => {
      if (refused) return;
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolve(undefined);
      // Depth is checked before parsing: nothing downstream (merge, validation, errors) recurses unbounded.
      const json = parseBoundedJson(text, MAX_JSON_DEPTH);
      if (json.ok) resolve(json.value);
      else reject(new ControlError('invalid_json', null, `a JSON object nested at most ${MAX_JSON_DEPTH} levels`, `request body is not JSON: ${json.problem}`));
    });
  });
}
