// systemd/segd.service: `systemd-analyze verify` accepts it without a single warning, its
// hardening scores "OK" in `systemd-analyze security`, and the command it runs exists in the build.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';
import { makeTempDir } from '../helpers/daemon.js';

const UNIT = join(REPO_ROOT, 'systemd', 'segd.service');
const haveAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const skip = haveAnalyze ? false : 'systemd-analyze is not installed (Debian package "systemd")';

function directives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m && m[1] !== undefined && m[2] !== undefined) out.set(m[1], [...(out.get(m[1]) ?? []), m[2]]);
  }
  return out;
}

describe('systemd unit', { skip }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  const text = readFileSync(UNIT, 'utf8');
  const d = directives(text);
  /**
   * verify checks that ExecStart's binary exists and is executable. /usr/bin/node is the install
   * target's node; this machine may keep node elsewhere, so the copy points at the node running
   * this test (the only change).
   */
  const verifiable = (body: string, name = 'segd.service'): string => {
    const p = join(tmp.dir, name);
    writeFileSync(p, body.replace('ExecStart=/usr/bin/node ', `ExecStart=${process.execPath} `));
    return p;
  };
  const analyze = (...args: string[]): { status: number | null; output: string } => {
    const r = spawnSync('systemd-analyze', args, { encoding: 'utf8', timeout: 30000 });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  };

  before(() => (tmp = makeTempDir('segd-systemd-')));
  after(() => tmp.cleanup());

  it('passes systemd-analyze verify with no warnings', () => {
    const r = analyze('verify', verifiable(text));
    assert.equal(r.status, 0, r.output);
    assert.equal(r.output.trim(), '', `verify printed warnings:\n${r.output}`);
  });

  it('verify does catch a broken unit (the check above is not vacuous)', () => {
    const typo = analyze('verify', verifiable(text.replace('ProtectHome=yes', 'ProtectHom=yes'), 'typo.service'));
    assert.match(typo.output, /Unknown key 'ProtectHom'/);
    const noBinary = analyze('verify', verifiable(text.replace('ExecStart=/usr/bin/node ', 'ExecStart=/nonexistent/node '), 'nobin.service'));
    assert.notEqual(noBinary.status, 0, noBinary.output);
  });

  it('runs the built CLI with the /etc/segd config, restarting on failure but not on a bad config', () => {
    assert.deepEqual(d.get('ExecStart'), ['/usr/bin/node /opt/segd/dist/daemon/cli.js run --config /etc/segd/segd.yaml']);
    // /opt/segd is the install location of this repository's build.
    assert.ok(existsSync(join(REPO_ROOT, 'dist', 'daemon', 'cli.js')), 'dist/daemon/cli.js missing: run `npm run build`');
    assert.deepEqual(d.get('Restart'), ['on-failure']);
    assert.deepEqual(d.get('RestartPreventExitStatus'), ['2']);
    assert.deepEqual(d.get('TimeoutStopSec'), ['10']);
  });

  it('`systemctl reload segd` sends SIGHUP to the daemon (it re-reads its config file)', () => {
    assert.deepEqual(d.get('ExecReload'), ['/bin/kill -HUP $MAINPID']);
    assert.ok(existsSync('/bin/kill'), '/bin/kill (procps) is where the unit expects it');
  });

  it('is hardened: dedicated user, read-only system, no capabilities, syscall filter, no MemoryDenyWriteExecute', () => {
    const expected: Record<string, string> = {
      DynamicUser: 'yes',
      User: 'segd',
      SupplementaryGroups: 'video',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      NoNewPrivileges: 'yes',
      CapabilityBoundingSet: '',
      RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
      SystemCallFilter: '@system-service',
      StateDirectory: 'segd',
      CacheDirectory: 'segd',
    };
    for (const [k, v] of Object.entries(expected)) assert.deepEqual(d.get(k), [v], k);
    // The token reaches the dynamic user as a credential: a root-only /etc/segd file it could not read itself.
    assert.deepEqual(d.get('LoadCredential'), ['segd-token:/etc/segd/token']);
    assert.deepEqual(d.get('Environment'), ['NODE_ENV=production', 'SEGD_TOKEN_FILE=%d/segd-token']);
    // V8's JIT needs writable+executable memory: node aborts under MemoryDenyWriteExecute.
    assert.equal(d.get('MemoryDenyWriteExecute'), undefined);
  });

  it('systemd-analyze security rates its exposure at most 3.0 ("OK")', () => {
    const r = analyze('security', '--offline=true', verifiable(text));
    const m = /Overall exposure level for segd\.service: (\d+\.\d+) (\w+)/.exec(r.output);
    assert.ok(m, r.output.slice(-2000));
    assert.ok(Number(m[1]) <= 3.0, `exposure ${m[1]} ${m[2]}`);
  });
});
