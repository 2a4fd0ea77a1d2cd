/**
 * The Python reference client (clients/python/segd_client.py, Debian python3 + python3-websockets)
 * against a live daemon: it prints one line per frame whose class-area fractions equal the ones
 * computed here from the same frame's mask (received by an independent client), sum to 1 and
 * name the model card's classes; --stream narrows to one stream; a dead address exits 1.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { assertSameFractions, expectedFractions, parseFrameLines, liveDaemonWithReference, runProgram } from '../helpers/client-output.js';
import { SYSTEM_PYTHON } from '../helpers/paths.js';

const SCRIPT = 'clients/python/segd_client.py';

describe('Python reference client', () => {
  it('prints per-frame class-area fractions that match the masks', { timeout: 180_000 }, async (t) => {
    const hasWebsockets = (await runProgram(SYSTEM_PYTHON, ['-c', 'import websockets'])).code === 0;
    if (!existsSync(SYSTEM_PYTHON) || !hasWebsockets) {
      t.skip(`${SYSTEM_PYTHON} with python3-websockets not installed`);
      return;
    }
    const { daemon, masks } = await liveDaemonWithReference(t);

    const run = await runProgram(SYSTEM_PYTHON, [SCRIPT, daemon.wsUrl, '--frames', '6', '--stream', 'cam2']);
    assert.equal(run.code, 0, run.stderr);
    const lines = parseFrameLines(run.stdout);
    assert.equal(lines.length, 6);
    for (const l of lines) {
      assert.equal(l.streamId, 'cam2');
      const ids = masks.get(`cam2#${l.seq}`);
      assert.ok(ids, `the reference client saw cam2#${l.seq}`);
      assertSameFractions(l.fractions, expectedFractions(ids), `cam2#${l.seq}`);
    }

    const raw = await runProgram(SYSTEM_PYTHON, [SCRIPT, daemon.wsUrl, '--frames', '3', '--encoding', 'raw']);
    assert.equal(raw.code, 0, raw.stderr);
    assert.equal(parseFrameLines(raw.stdout).length, 3);

    const dead = await runProgram(SYSTEM_PYTHON, [SCRIPT, 'ws://127.0.0.1:1/ws', '--frames', '1']);
    assert.equal(dead.code, 1);
    assert.match(dead.stderr, /cannot talk to ws:\/\/127\.0\.0\.1:1\/ws/);
    const usage = await runProgram(SYSTEM_PYTHON, [SCRIPT, 'http://x/ws']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /expected ws:\/\/ or wss:\/\//);
  });
});
