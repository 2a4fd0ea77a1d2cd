// The Python client's own tests against the protocol's machine-readable definition (docs/protocol/:
// golden header vectors, the control messages' JSON Schema): clients/python/test_segd_client.py, run
// with Debian's python3 (python3-websockets, python3-jsonschema; scripts/setup.sh --test installs both).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runProgram } from '../helpers/client-output.js';
import { REPO_ROOT, SYSTEM_PYTHON } from '../helpers/paths.js';

describe('Python client: the protocol definition in docs/protocol/', () => {
  it('passes its unittest suite (golden vectors, control-message schema)', { timeout: 120_000 }, async () => {
    // Run as a script: its folder is then on sys.path, so it imports segd_client beside it.
    const r = await runProgram(SYSTEM_PYTHON, [join(REPO_ROOT, 'clients', 'python', 'test_segd_client.py'), '-v']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /Ran [1-9]\d* tests?/);
    assert.match(r.stderr, /\nOK\n/);
  });
});
