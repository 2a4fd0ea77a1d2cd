// daemon/logger.ts: JSON lines with a readable level, the configured level honoured, and
// credentials redacted even when a caller logs a raw URL or a secret field by mistake.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../daemon/logger.js';
import type { LogLevel } from '../../daemon/config/schema.js';

function capture(level: LogLevel): { log: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb): void {
      text += chunk.toString('utf8');
      cb();
    },
  });
  const log = createLogger({ level, destination });
  return { log, lines: () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('logger', () => {
  it('writes JSON lines with a string level and an ISO time, honouring the level', () => {
    const { log, lines } = capture('warn');
    log.info('hidden');
    log.warn({ stream: 'cam1' }, 'shown');
    const out = lines();
    assert.equal(out.length, 1);
    assert.equal(out[0]?.['level'], 'warn');
    assert.equal(out[0]?.['msg'], 'shown');
    assert.equal(out[0]?.['stream'], 'cam1');
    assert.match(String(out[0]?.['time']), /^\d{4}-\d\d-\d\dT/);
  });

  it('redacts credentials in URL fields and hides secret fields', () => {
    const { log, lines } = capture('info');
    log.info({ url: 'rtsp://admin:hunter2@10.0.0.5/s1', password: 'hunter2', cfg: { token: 'abc123', url: 'http://h/x?token=abc123' } }, 'x');
    const line = lines()[0] ?? {};
    const text = JSON.stringify(line);
    assert.ok(!text.includes('hunter2') && !text.includes('abc123'), text);
    assert.equal(line['url'], 'rtsp://***:***@10.0.0.5/s1');
    assert.equal(line['password'], '[redacted]');
    assert.deepEqual(line['cfg'], { token: '[redacted]', url: 'http://h/x?token=***' });
  });
});
