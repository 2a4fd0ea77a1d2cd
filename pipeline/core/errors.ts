/**
 * Coded errors (fastify style): every failure the daemon reports to a user carries a stable
 * code, so logs, exit paths and tests match on the code rather than on message text.
 */
export type SegdErrorCode =
  | 'SEGD_CONFIG_INVALID' // config file fails schema validation (details list every violation)
  | 'SEGD_CONFIG_UNREADABLE' // config file missing / not YAML
  | 'SEGD_SOURCE_URL_INVALID' // stream URL unparsable or unsupported scheme
  | 'SEGD_ZONE_INVALID' // a zone does not fit the model's masks (unknown class, polygon covering no pixel); the daemon reports a config's as SEGD_CONFIG_INVALID
  | 'SEGD_MODEL_NOT_FOUND' // .onnx missing
  | 'SEGD_MODEL_CARD_INVALID' // card missing, unreadable or breaking the contract
  | 'SEGD_MODEL_INVALID' // ONNX file corrupt or breaking the contract (inputs/outputs/dtypes/shapes)
  | 'SEGD_PROVIDER_UNAVAILABLE' // none of the configured execution providers could be used
  | 'SEGD_INFERENCE_FAILED' // a batch failed, or the engine gave up
  | 'SEGD_INFERENCE_UNAVAILABLE'; // the remote inference server (Triton) cannot be reached or its model is not ready

export class SegdError extends Error {
  readonly code: SegdErrorCode;
  /** Machine-readable details, e.g. the list of config violations. */
  readonly details: readonly string[];

  constructor(code: SegdErrorCode, message: string, details: readonly string[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SegdError';
    this.code = code;
    this.details = details;
  }
}
