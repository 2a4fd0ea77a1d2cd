// The daemon's lifecycle stack (daemon/lifecycle.ts): parts start in order, close in reverse; a
// failing closer does not stop the others; a failed start registers nothing; close is idempotent.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Lifecycle } from '../../daemon/lifecycle.js';
import { memoryLogger } from '../helpers/source-harness.js';

describe('Lifecycle', () => {
  it('closes in the reverse of the start order, each part with what its start returned', async () => {
    const { logger } = memoryLogger('debug');
    const life = new Lifecycle(logger);
    const log: string[] = [];
    const a = await life.start('a', () => ({ id: 'A' }), (p) => void log.push(`close ${p.id}`));
    assert.deepEqual(a, { id: 'A' });
    await life.start('b', async () => 'B', async (p) => {
      await new Promise((r) => setImmediate(r));
      log.push(`close ${p}`);
    });
    await life.start('no closer', () => 1);
    life.onClose('c', () => void log.push('close C'));
    assert.deepEqual(life.closeOrder, ['c', 'b', 'a']);
    await life.close();
    assert.deepEqual(log, ['close C', 'close B', 'close A']);
    await life.close(); // idempotent: nothing runs twice
    assert.deepEqual(log, ['close C', 'close B', 'close A']);
  });

  it('a failing closer is logged by name, the others still run, and close() rejects with the first failure', async () => {
    const { logger, lines } = memoryLogger('debug');
    const life = new Lifecycle(logger);
    const log: string[] = [];
    life.onClose('first', () => void log.push('first'));
    life.onClose('broken', () => {
      throw new Error('boom');
    });
    life.onClose('broken too', () => Promise.reject(new Error('bang')));
    life.onClose('last', () => void log.push('last'));
    await assert.rejects(life.close(), /bang/);
    assert.deepEqual(log, ['last', 'first']);
    assert.ok(lines.some((l) => l.includes('closing broken failed')), lines.join('\n'));
    assert.ok(lines.some((l) => l.includes('closing broken too failed')), lines.join('\n'));
  });

  it('a start that throws registers nothing; what started before it closes; nothing starts once closing', async () => {
    const { logger } = memoryLogger('debug');
    const life = new Lifecycle(logger);
    const log: string[] = [];
    await life.start('http', () => 'h', () => void log.push('close http'));
    await assert.rejects(
      life.start('engine', () => Promise.reject(new Error('no model')), () => void log.push('close engine')),
      /no model/,
    );
    await life.close();
    assert.deepEqual(log, ['close http']);
    await assert.rejects(life.start('late', () => 1), /cannot start late: closing/);
    assert.throws(() => life.onClose('late', () => undefined), /cannot register late: closing/);
  });
});
