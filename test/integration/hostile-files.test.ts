// Hostile paths (issue 28 F2, F4, F5, F7): stream URLs, configs, model cards and secret files that
// name devices, FIFOs, /proc, files outside the allowed directories or files that are not what
// they claim. Each is refused at once with an error naming the path and what was expected, never
// read without end, never waited on, never quoted. mkfifo is a real FIFO (a child process).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkStreamUrl, loadConfigFile } from '../../daemon/config/load.js';
import { resolveToken } from '../../daemon/config/token.js';
import { SegdError } from '../../pipeline/core/errors.js';
import { readModelCard } from '../../pipeline/engine/model-card.js';
import { makeTempDir } from '../helpers/daemon.js';

const SECRET = 'db_password=hunter2';

describe('hostile files', { timeout: 60_000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let allowed: string;
  let fifo: string;
  before(() => {
    tmp = makeTempDir('segd-hostile-files-');
    allowed = join(tmp.dir, 'clips');
    mkdirSync(allowed);
    mkdirSync(join(tmp.dir, 'private'));
    writeFileSync(join(tmp.dir, 'private', 'secret.txt'), `${SECRET}\n`);
    writeFileSync(join(allowed, 'clip.mp4'), 'not really a video, but a regular file');
    symlinkSync(join(tmp.dir, 'private', 'secret.txt'), join(allowed, 'escape.mp4'));
    fifo = join(allowed, 'fifo.mp4');
    execFileSync('mkfifo', [fifo]);
  });
  after(() => tmp?.cleanup());

  describe('stream URLs (F2)', () => {
    const check = (url: string): string | null => checkStreamUrl(url, allowed, 'url', [allowed]);

    it('a regular file under an allowed directory is fine', () => {
      assert.equal(check(join(allowed, 'clip.mp4')), null);
      assert.equal(check('clip.mp4'), null, 'relative to the config directory');
      assert.equal(check('rtsp://cam/s'), null, 'not a file: not this check');
    });

    it('a file outside the allowed directories is refused, existing or not, with the same words', () => {
      const existing = check(join(tmp.dir, 'private', 'secret.txt'));
      const missing = check(join(tmp.dir, 'private', 'nope.txt'));
      for (const p of [existing, missing, check('/etc/passwd'), check(`file://${join(tmp.dir, 'private', 'secret.txt')}`)]) {
        assert.match(String(p), /^url: expected a video file under one of the allowed directories/);
      }
      assert.equal(existing?.replace('secret.txt', 'X'), missing?.replace('nope.txt', 'X'), 'the answer does not reveal which exists');
      assert.ok(!String(existing).includes('hunter2'));
    });

    it('a symlink out of an allowed directory, a FIFO, a device, /proc and /sys are refused', () => {
      assert.match(String(check(join(allowed, 'escape.mp4'))), /under one of the allowed directories/);
      assert.match(String(check(fifo)), /expected a regular video file, .* is a device, FIFO/);
      assert.match(String(checkStreamUrl('/dev/zero', '/', 'url', ['/dev'])), /expected a regular video file/);
      assert.match(String(checkStreamUrl('/proc/self/environ', '/', 'url', ['/'])), /under one of the allowed directories/);
      assert.match(String(checkStreamUrl('/sys/kernel/notes', '/', 'url', ['/'])), /under one of the allowed directories/);
      assert.match(String(checkStreamUrl(`${allowed}-sibling/x.mp4`, '/', 'url', [allowed])), /under one of the allowed/, 'a prefix is not a parent');
    });
  });

  describe('configs, cards and secret files (F4, F5, F7)', () => {
    const cardError = async (path: string): Promise<SegdError> => {
      const err = await readModelCard(path).then(
        () => null,
        (e: unknown) => e,
      );
      assert.ok(err instanceof SegdError && err.code === 'SEGD_MODEL_CARD_INVALID', `${path}: ${String(err)}`);
      return err;
    };

    it('a card on /dev/zero, /dev/urandom, /dev/ptmx or a FIFO is refused at once, unread', async () => {
      for (const path of ['/dev/zero', '/dev/urandom', '/dev/ptmx', fifo]) {
        const err = await cardError(path);
        assert.match(err.message, new RegExp(`model card ${path} is unreadable: a (device|FIFO), expected a regular file`));
      }
      const proc = await cardError('/proc/self/status');
      assert.match(proc.message, /a \/proc or \/sys file, expected a regular file/);
    });

    it('a card over 1 MiB is refused unread', async () => {
      const big = join(tmp.dir, 'big.json');
      writeFileSync(big, `{"x":"${'a'.repeat(2 * 1024 * 1024)}"}`);
      assert.match((await cardError(big)).message, /file of \d+ bytes, expected at most 1048576/);
    });

    it('a card that is not JSON names the file and what was expected, never its contents (F7)', async () => {
      const err = await cardError(join(tmp.dir, 'private', 'secret.txt'));
      assert.ok(!err.message.includes('hunter2') && !err.message.includes('db_password'), err.message);
      assert.match(err.message, /secret\.txt is not a JSON model card \(not valid JSON.*\); expected a JSON object/);
      const deep = join(tmp.dir, 'deep.json');
      writeFileSync(deep, '['.repeat(100_000) + ']'.repeat(100_000));
      assert.match((await cardError(deep)).message, /nested deeper than 32 levels/);
    });

    it('a config file on a device or a FIFO is SEGD_CONFIG_UNREADABLE at once', () => {
      for (const [path, what] of [
        ['/dev/zero', 'a device'],
        [fifo, 'a FIFO'],
        ['/proc/self/status', 'a /proc or /sys file'],
        [tmp.dir, 'a directory'],
      ] as const) {
        assert.throws(
          () => loadConfigFile(path),
          (err: unknown) => err instanceof SegdError && err.code === 'SEGD_CONFIG_UNREADABLE' && err.message.includes(`${what}, expected a regular file`),
          path,
        );
      }
    });

    it('a token file on /dev/zero or a FIFO is refused, not read', () => {
      const cfg = loadConfigFileFor(tmp.dir);
      for (const path of ['/dev/zero', fifo]) {
        assert.throws(
          () => resolveToken(cfg, { SEGD_TOKEN_FILE: path }),
          (err: unknown) => err instanceof SegdError && /expected a regular file/.test(err.message),
        );
      }
    });
  });
});

/** A minimal valid config (an RTSP stream: no file checks) loaded from `dir`. */
function loadConfigFileFor(dir: string): ReturnType<typeof loadConfigFile> {
  const path = join(dir, 'segd.yaml');
  writeFileSync(path, 'streams: [{ id: a, url: rtsp://h/x }]\n');
  return loadConfigFile(path);
}
