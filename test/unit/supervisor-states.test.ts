/**
 * The supervision shape shared by stream sources and the inference engine: the transition tables
 * (every pair of states tried, legal ones listed here on purpose, so a change to a table has to
 * change this test too), and the Supervisor itself (refuses what its table does not list, spaces
 * retries by its Backoff, gives up after maxAttempts, forgets failures on success).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StreamState } from '../../pipeline/core/reasons.js';
import { WORKER_TRANSITIONS, type WorkerState } from '../../pipeline/engine/worker-supervisor.js';
import { SOURCE_TRANSITIONS } from '../../pipeline/sources/source-states.js';
import { IllegalTransitionError, Supervisor, type TransitionTable } from '../../pipeline/core/supervisor.js';

const STREAM_STATES: readonly StreamState[] = ['stopped', 'connecting', 'streaming', 'stalled', 'backoff'];
const WORKER_STATES: readonly WorkerState[] = ['running', 'backoff', 'starting', 'failed', 'closed'];

/** Tries every from → to pair on a fresh Supervisor; returns the pairs it allowed, as "from>to". */
function legalPairs<S extends string>(table: TransitionTable<S>, states: readonly S[]): string[] {
  const legal: string[] = [];
  for (const from of states) {
    for (const to of states) {
      const seen: [S, string, S][] = [];
      const sup = new Supervisor<S>({ what: 'unit', table, initial: from, initialReason: 'init', onTransition: (s, r, f) => seen.push([s, r, f]) });
      let moved: boolean;
      try {
        moved = sup.to(to, 'test');
      } catch (err) {
        assert.ok(err instanceof IllegalTransitionError, `${from} → ${to}: ${String(err)}`);
        assert.equal(err.message, `unit: illegal state transition ${from} → ${to} (reason test)`);
        assert.equal(sup.state, from, 'a refused transition leaves the state as it was');
        assert.equal(sup.reason, 'init');
        assert.deepEqual(seen, []);
        continue;
      }
      assert.equal(moved, true);
      assert.deepEqual([sup.state, sup.reason], [to, 'test']);
      assert.deepEqual(seen, [[to, 'test', from]]);
      legal.push(`${from}>${to}`);
    }
  }
  return legal.sort();
}

/** The states reachable from `start` through the table. */
function reachable<S extends string>(table: TransitionTable<S>, start: S): Set<S> {
  const seen = new Set<S>([start]);
  const todo = [start];
  for (let s = todo.pop(); s !== undefined; s = todo.pop()) {
    for (const next of table[s]) if (!seen.has(next)) todo.push((seen.add(next), next));
  }
  return seen;
}

describe('transition tables', () => {
  it('stream sources: exactly these moves, every state reachable from stopped, stopped reachable from every state', () => {
    assert.deepEqual(
      legalPairs(SOURCE_TRANSITIONS, STREAM_STATES),
      [
        'backoff>connecting',
        'backoff>stopped',
        'connecting>backoff',
        'connecting>stalled',
        'connecting>stopped',
        'connecting>streaming',
        'stalled>backoff',
        'stalled>stopped',
        'stopped>connecting',
        'stopped>stopped', // eof, then closed: only the reason changes
        'streaming>backoff',
        'streaming>stalled',
        'streaming>stopped',
      ].sort(),
    );
    assert.deepEqual([...reachable(SOURCE_TRANSITIONS, 'stopped')].sort(), [...STREAM_STATES].sort());
    for (const s of STREAM_STATES) assert.ok(SOURCE_TRANSITIONS[s].includes('stopped'), `close() from ${s}`);
  });

  it('the inference worker: exactly these moves, every state reachable from running, closed from every state but itself', () => {
    assert.deepEqual(
      legalPairs(WORKER_TRANSITIONS, WORKER_STATES),
      [
        'backoff>closed',
        'backoff>failed',
        'backoff>starting',
        'failed>closed',
        'running>backoff',
        'running>closed',
        'running>failed',
        'starting>backoff',
        'starting>closed',
        'starting>failed',
        'starting>running',
      ].sort(),
    );
    assert.deepEqual([...reachable(WORKER_TRANSITIONS, 'running')].sort(), [...WORKER_STATES].sort());
    for (const s of WORKER_STATES) if (s !== 'closed') assert.ok(WORKER_TRANSITIONS[s].includes('closed'), `close() from ${s}`);
    assert.deepEqual(WORKER_TRANSITIONS.closed, [], 'closed is final');
  });
});

describe('Supervisor', () => {
  const table: TransitionTable<'a' | 'b'> = { a: ['b'], b: ['a', 'b'] };

  it('the same state and reason again is no change; a new reason is one where the table allows it', () => {
    const seen: string[] = [];
    const sup = new Supervisor({ what: 'unit', table, initial: 'a', initialReason: 'init', onTransition: (s, r, f) => seen.push(`${f}>${s}:${r}`) });
    assert.equal(sup.to('a', 'init'), false, 'not a transition: nothing to refuse');
    assert.equal(sup.to('b', 'go'), true);
    assert.equal(sup.to('b', 'go'), false);
    assert.equal(sup.to('b', 'again'), true);
    assert.throws(() => new Supervisor({ what: 'unit', table, initial: 'a', initialReason: 'init' }).to('a', 'other'), IllegalTransitionError);
    assert.deepEqual(seen, ['a>b:go', 'b>b:again']);
    assert.equal(sup.allows('a'), true);
  });

  it('spaces retries by its backoff, gives up after maxAttempts, and starts over after a success', async () => {
    const sup = new Supervisor({ what: 'unit', table, initial: 'a', initialReason: 'init', backoff: { minMs: 1, maxMs: 4, jitter: 'none' }, maxAttempts: 3 });
    const retried: number[] = [];
    const retryOnce = async (): Promise<number | null> => {
      let done!: () => void;
      const ran = new Promise<void>((resolve) => (done = resolve));
      const delay = sup.scheduleRetry(() => {
        retried.push(sup.attempts);
        done();
      });
      if (delay !== null) {
        assert.equal(sup.retryPending, true);
        await ran;
        assert.equal(sup.retryPending, false);
      }
      return delay;
    };
    assert.deepEqual([await retryOnce(), await retryOnce(), await retryOnce()], [1, 2, 4]);
    assert.equal(await retryOnce(), null, 'the fourth retry in a row is refused');
    assert.equal(sup.retryPending, false);
    assert.deepEqual(retried, [1, 2, 3]);
    sup.succeeded();
    assert.equal(sup.attempts, 0);
    assert.equal(await retryOnce(), 1, 'after a success: the smallest delay again');
  });

  it('one retry at a time; a cancelled retry never runs', async () => {
    const sup = new Supervisor({ what: 'unit', table, initial: 'a', initialReason: 'init', backoff: { minMs: 1, maxMs: 2, jitter: 'none' } });
    const ran: string[] = [];
    sup.scheduleRetry(() => ran.push('cancelled'));
    assert.throws(() => sup.scheduleRetry(() => ran.push('second')), /unit: a retry is already scheduled/);
    assert.equal(sup.cancelRetry(), true);
    assert.equal(sup.cancelRetry(), false);
    await new Promise<void>((resolve) => sup.scheduleRetry(() => resolve(void ran.push('later'))));
    assert.deepEqual(ran, ['later']);
  });
});
