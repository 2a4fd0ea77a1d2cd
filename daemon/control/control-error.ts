/**
 * Why a runtime-control operation (the /api/ routes, a config reload) was refused. The codes are
 * the `error` of the API's JSON error body (docs/running.md, "Runtime control"); the API maps
 * each to its HTTP status (daemon/api/api-errors.ts).
 */
export const CONTROL_ERROR_CODES = [
  'invalid_json', // the body is not JSON
  'invalid_request', // a field outside the stream schema is wrong (the URL's id, the model path)
  'invalid_stream', // the stream fails the config's stream schema (problems: one line per violation)
  'invalid_config', // a config reload found the file invalid (problems: one line per violation)
  'body_too_large',
  'unknown_stream',
  'stream_exists',
  'too_many_streams', // the config's limit of streams per daemon
  'last_stream', // the config needs at least one stream
  'busy', // too many operations already waiting on this stream / the model; retry
  'model_rejected', // the new model failed to load or warm up; the old one keeps serving
  'reload_unavailable', // the daemon was started without a config file
  'not_ready', // the model is still loading (start-up)
  'stopping', // the daemon is shutting down
  'not_found',
  'method_not_allowed',
] as const;
export type ControlErrorCode = (typeof CONTROL_ERROR_CODES)[number];

export class ControlError extends Error {
  constructor(
    readonly code: ControlErrorCode,
    /** The offending field (`url`, `path`, `id`), null when the request as a whole is refused. */
    readonly field: string | null,
    /** What would have been accepted. */
    readonly expected: string,
    message: string,
    /** Every violation, one line each (schema errors), else empty. */
    readonly problems: readonly string[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ControlError';
  }
}
