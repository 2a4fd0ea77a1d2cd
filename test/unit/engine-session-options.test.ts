/** Session options the engine (and the bench's bare phase) open ONNX Runtime with, up to the provider call. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sessionOptionsFor } from '../../pipeline/engine/index.js';
import { ignoredTensorrtEnv } from '../../pipeline/engine/tensorrt-env.js';

const CPU = { intraOpThreads: 2, interOpThreads: 1 };

describe('sessionOptionsFor', () => {
  it('thread-pool spinning is off unless asked for, for intra- and inter-op pools alike', () => {
    const off = sessionOptionsFor('cpu', { cpu: CPU });
    assert.deepEqual(off.extra, { 'session.intra_op.allow_spinning': '0', 'session.inter_op.allow_spinning': '0' });
    const on = sessionOptionsFor('cuda', { cpu: { ...CPU, allowSpinning: true } });
    assert.deepEqual(on.extra, { 'session.intra_op.allow_spinning': '1', 'session.inter_op.allow_spinning': '1' });
    assert.equal(on.intraOpNumThreads, 2);
    assert.equal(on.interOpNumThreads, 1);
  });

  it('TensorRT and CUDA get a device id and nothing the binding would drop (no ORT_TENSORRT_*, no ep.context_* entries)', () => {
    const trt = sessionOptionsFor('tensorrt', { cpu: CPU });
    assert.deepEqual(trt.executionProviders, [{ name: 'tensorrt', deviceId: 0 }]);
    assert.deepEqual(sessionOptionsFor('cuda', { cpu: CPU }).executionProviders, [{ name: 'cuda', deviceId: 0 }]);
    assert.deepEqual(sessionOptionsFor('cpu', { cpu: CPU }).executionProviders, ['cpu']);
    // Only the spinning entries: EP-context entries in `extra` would reach ORT after the provider was appended.
    assert.deepEqual(Object.keys(trt.extra ?? {}).sort(), ['session.inter_op.allow_spinning', 'session.intra_op.allow_spinning']);
  });
});

describe('ignoredTensorrtEnv', () => {
  it('lists every ORT_TENSORRT_* variable set (sorted), and nothing else', () => {
    const env = { PATH: '/usr/bin', ORT_TENSORRT_FP16_ENABLE: '1', ORT_TENSORRT_CACHE_PATH: '/c', ORT_CUDA_X: '1', ORT_TENSORRT_UNSET: undefined };
    assert.deepEqual(ignoredTensorrtEnv(env), ['ORT_TENSORRT_CACHE_PATH', 'ORT_TENSORRT_FP16_ENABLE']);
    assert.deepEqual(ignoredTensorrtEnv({ PATH: '/usr/bin' }), []);
  });
});
