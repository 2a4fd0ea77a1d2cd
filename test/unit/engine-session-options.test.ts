/** Session options the engine (and the bench's bare phase) open ONNX Runtime with. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sessionOptionsFor } from '../../pipeline/engine/index.js';

const TRT = { fp16: false, engineCacheDir: null };

describe('sessionOptionsFor', () => {
  it('thread-pool spinning is off unless asked for, for intra- and inter-op pools alike', () => {
    const off = sessionOptionsFor('cpu', { tensorrt: TRT, cpu: { intraOpThreads: 2, interOpThreads: 1 } });
    assert.deepEqual(off.extra, { 'session.intra_op.allow_spinning': '0', 'session.inter_op.allow_spinning': '0' });
    const on = sessionOptionsFor('cuda', { tensorrt: TRT, cpu: { intraOpThreads: 2, interOpThreads: 1, allowSpinning: true } });
    assert.deepEqual(on.extra, { 'session.intra_op.allow_spinning': '1', 'session.inter_op.allow_spinning': '1' });
    assert.equal(on.intraOpNumThreads, 2);
    assert.equal(on.interOpNumThreads, 1);
  });
});
