import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nodeVersionProblem, requiredNodeVersion } from '../../daemon/node-version.js';

describe('Node.js version check at start', () => {
  it('reads the bound from package.json engines', () => {
    assert.equal(requiredNodeVersion(), '>=20.15');
  });

  it('refuses an older Node.js with a line naming both versions', () => {
    for (const old of ['18.19.0', '20.14.9', '20.9.0', 'v16.20.2']) {
      const p = nodeVersionProblem(old, '>=20.15');
      assert.ok(p !== null && p.startsWith(`Node.js ${old} is too old: segd needs Node.js >=20.15`), `${old}: ${p}`);
    }
  });

  it('accepts the bound itself and anything newer', () => {
    for (const ok of ['20.15.0', '20.20.2', '22.1.0', 'v24.0.0']) assert.equal(nodeVersionProblem(ok, '>=20.15'), null, ok);
    assert.equal(nodeVersionProblem(process.versions.node, requiredNodeVersion()), null, 'this Node.js');
  });
});
