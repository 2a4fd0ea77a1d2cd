/**
 * What the triton engine needs from a KServe v2 server, whatever the wire: the few calls it makes,
 * the shapes of their replies and one error type. Two transports implement it, picked by the URL's
 * scheme: gRPC (`grpc://`, `grpcs://`; triton-grpc-client.ts) and HTTP/REST with the binary-tensor
 * extension (`http://`, `https://`; triton-http-client.ts). Errors of both carry a gRPC status name,
 * so the engine's policy and its metrics read one vocabulary (HTTP statuses are mapped onto it).
 */
import type { GrpcStatusName, TritonRpcMethod } from '../core/reasons.js';

export interface TritonTls {
  /** PEM files; all null = the system's roots, no client certificate. */
  readonly ca: string | null;
  readonly cert: string | null;
  readonly key: string | null;
}

export interface TritonTransportOptions {
  /** grpc://, grpcs://, http:// or https:// followed by host:port. */
  readonly url: string;
  readonly tls: TritonTls;
  /** Sent with every call (gRPC metadata or HTTP headers; e.g. authorization). */
  readonly headers: Readonly<Record<string, string>>;
  /** Largest reply accepted, bytes (a mask batch is maxBatch*H*W). */
  readonly maxReceiveBytes: number;
  readonly onRpc?: (method: TritonRpcMethod, seconds: number, code: GrpcStatusName | 'OK') => void;
}

export interface TensorMetadata {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
}

export interface ModelMetadata {
  readonly name: string;
  readonly versions: readonly string[];
  readonly platform: string;
  readonly inputs: readonly TensorMetadata[];
  readonly outputs: readonly TensorMetadata[];
}

export interface InferOutput {
  readonly name: string;
  readonly datatype: string;
  readonly shape: readonly number[];
  /** Raw little-endian bytes, or null when the server sent none for it. */
  readonly raw: Uint8Array | null;
}

export interface InferInput {
  readonly name: string;
  readonly shape: readonly number[];
  /** UINT8 bytes; sent as they are (copied at most once, before infer() returns its promise). */
  readonly data: Uint8Array;
}

/** The calls the engine makes; each reports itself to onRpc and fails with a TritonRpcError. */
export interface TritonTransport {
  readonly protocol: TritonProtocol;
  serverLive(timeoutMs: number): Promise<boolean>;
  modelReady(name: string, version: string, timeoutMs: number): Promise<boolean>;
  modelMetadata(name: string, version: string, timeoutMs: number): Promise<ModelMetadata>;
  /** The model config's `parameters` (Triton's extension), as name → string_value. */
  modelParameters(name: string, version: string, timeoutMs: number): Promise<Record<string, string>>;
  infer(model: string, version: string, input: InferInput, outputName: string, timeoutMs: number): Promise<InferOutput[]>;
  close(): void;
}

/** A failed call: its status (a gRPC status name; HTTP statuses mapped onto them) and the server's message. */
export class TritonRpcError extends Error {
  constructor(
    readonly method: TritonRpcMethod,
    readonly code: GrpcStatusName,
    readonly detail: string,
  ) {
    super(`${method}: ${code}: ${detail}`);
    this.name = 'TritonRpcError';
  }
}

export const TRITON_PROTOCOLS = ['grpc', 'http'] as const;
export type TritonProtocol = (typeof TRITON_PROTOCOLS)[number];

/** The URL forms model.triton.url accepts (the config schema's pattern says the same). */
export const TRITON_URL_PATTERN = '^(grpcs?|https?)://[^/\\s]+/?$';

export interface TritonAddress {
  readonly protocol: TritonProtocol;
  /** host:port */
  readonly address: string;
  readonly secure: boolean;
}

/** Protocol, host:port and TLS from the URL; throws naming the URL otherwise. */
export function parseTritonUrl(url: string): TritonAddress {
  const m = /^(grpcs?|https?):\/\/([^/\s]+)\/?$/.exec(url);
  if (m === null) throw new RangeError(`triton url: expected grpc://, grpcs://, http:// or https:// followed by host:port, got ${url}`);
  const scheme = m[1] as string;
  return { protocol: scheme.startsWith('grpc') ? 'grpc' : 'http', address: m[2] as string, secure: scheme.endsWith('s') };
}
