import assert from 'node:assert/strict';
import { SegdError } from '../../pipeline/core/errors.js';

/** The detail lines of the SEGD_CONFIG_INVALID that `fn` throws (fails the test when it throws nothing else). */
export function configProblems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SegdError && err.code === 'SEGD_CONFIG_INVALID', String(err));
    return [...err.details];
  }
  assert.fail('expected SEGD_CONFIG_INVALID');
}
