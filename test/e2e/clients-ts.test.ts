/**
 * The TypeScript reference client against a live daemon: the CLI (dist/clients/ts/cli.js) prints
 * per-frame class-area fractions equal to those computed here from the same frames' masks, and the
 * importable SegdClient delivers decoded masks (raw and deflate alike) with the card's classes.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { SegdClient, classAreaFractions, type DecodedMask } from '../../clients/ts/segd-client.js';
import { CARD, assertSameFractions, expectedFractions, parseFrameLines, liveDaemonWithReference, runProgram } from '../helpers/client-output.js';
import { REPO_ROOT } from '../helpers/paths.js';

const CLI = join(REPO_ROOT, 'dist', 'clients', 'ts', 'cli.js');

describe('TypeScript reference client', () => {
  it('CLI and library report the masks of a live daemon', { timeout: 180_000 }, async (t) => {
    const { daemon, masks } = await liveDaemonWithReference(t);

    const run = await runProgram(process.execPath, [CLI, daemon.wsUrl, '--frames', '6', '--stream', 'cam1']);
    assert.equal(run.code, 0, run.stderr);
    const lines = parseFrameLines(run.stdout);
    assert.equal(lines.length, 6);
    for (const l of lines) {
      assert.equal(l.streamId, 'cam1');
      const ids = masks.get(`cam1#${l.seq}`);
      assert.ok(ids, `the reference client saw cam1#${l.seq}`);
      assertSameFractions(l.fractions, expectedFractions(ids), `cam1#${l.seq}`);
    }

    // The library: raw and deflate deliver the same decoded ids for the same frame.
    const got = new Map<string, Map<string, DecodedMask>>();
    const clients = await Promise.all(
      (['raw', 'deflate'] as const).map(async (encoding) => {
        const c = await SegdClient.connect(daemon.wsUrl, { encoding });
        const seen = new Map<string, DecodedMask>();
        got.set(encoding, seen);
        c.onMask = (m) => seen.set(`${m.streamId}#${m.seq}`, m);
        return c;
      }),
    );
    t.after(() => Promise.all(clients.map((c) => c.close())));
    assert.deepEqual(clients[0]?.classes.map((c) => c.name), CARD.classes.map((c) => c.name));
    const deadline = Date.now() + 60_000;
    let common: string[] = [];
    while (common.length < 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      const deflated = got.get('deflate') as Map<string, DecodedMask>;
      common = [...(got.get('raw') as Map<string, DecodedMask>).keys()].filter((k) => deflated.has(k));
    }
    assert.ok(common.length >= 3, `frames seen by both clients: ${common.length}`);
    for (const key of common) {
      const a = got.get('raw')?.get(key) as DecodedMask;
      const b = got.get('deflate')?.get(key) as DecodedMask;
      assert.equal(a.ids.length, a.width * a.height);
      assert.ok(Buffer.from(a.ids).equals(Buffer.from(b.ids)), `${key}: raw and deflate decode alike`);
      const f = classAreaFractions(a.ids, CARD.classes.length);
      assert.ok(Math.abs(f.reduce((s, x) => s + x, 0) - 1) < 1e-9);
    }
    assert.throws(() => classAreaFractions(Uint8Array.from([0, 11]), 11), /1 pixels with class ids >= 11/);

    const dead = await runProgram(process.execPath, [CLI, 'ws://127.0.0.1:1/ws', '--frames', '1']);
    assert.equal(dead.code, 1);
    assert.match(dead.stderr, /cannot connect to ws:\/\/127\.0\.0\.1:1\/ws/);
    const usage = await runProgram(process.execPath, [CLI, daemon.wsUrl, '--frames', 'x']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--frames: expected a positive integer/);
  });
});
