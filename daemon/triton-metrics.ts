/**
 * The triton engine's metrics, on the daemon's registry (only when model.engine is triton):
 * RPC latency by method, failed RPCs by method and gRPC status, inference RPCs in flight.
 * Labels are bounded: methods and codes are the tuples of pipeline/core/reasons.ts, every
 * series exported from the start (at 0).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { GRPC_STATUS_NAMES, TRITON_RPC_METHODS, type GrpcStatusName, type TritonRpcMethod } from '../pipeline/core/reasons.js';
import type { TritonHooks } from '../pipeline/engine/index.js';
import { LATENCY_BUCKETS } from './metrics.js';

export function tritonMetrics(registry: Registry): TritonHooks {
  const registers = [registry];
  const latency = new Histogram({
    name: 'segd_triton_rpc_duration_seconds',
    help: 'Triton calls (KServe v2 over HTTP or gRPC) from call to reply, failed ones included, by method.',
    labelNames: ['method'],
    buckets: [...LATENCY_BUCKETS],
    registers,
  });
  const errors = new Counter({
    name: 'segd_triton_rpc_errors_total',
    help: 'Triton calls that failed, by method and gRPC status (HTTP statuses mapped onto them).',
    labelNames: ['method', 'code'],
    registers,
  });
  const inFlight = new Gauge({ name: 'segd_triton_inflight_requests', help: 'Inference RPCs to Triton in flight.', registers });
  const hist = Object.fromEntries(TRITON_RPC_METHODS.map((m) => [m, latency.labels(m)])) as Record<TritonRpcMethod, ReturnType<typeof latency.labels>>;
  const errs = new Map<string, ReturnType<typeof errors.labels>>();
  for (const m of TRITON_RPC_METHODS) {
    for (const c of GRPC_STATUS_NAMES) {
      const child = errors.labels(m, c);
      child.inc(0);
      errs.set(`${m}/${c}`, child);
    }
  }
  inFlight.set(0);
  return {
    onRpc: (method: TritonRpcMethod, seconds: number, code: GrpcStatusName | 'OK') => {
      hist[method].observe(seconds);
      if (code !== 'OK') errs.get(`${method}/${code}`)?.inc();
    },
    onInFlight: (n) => inFlight.set(n),
  };
}
