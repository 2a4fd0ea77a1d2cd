// Which ffmpeg the daemon runs (issue 28 F10): the configured one; else a system ffmpeg of version
// 5 or newer; else the bundled @ffmpeg-installer build. Real binaries: the bundled one stands in
// for an old or unversioned system ffmpeg, a missing path for a host without one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseFfmpeg, ffmpegVersion, parseFfmpegVersion } from '../../daemon/ffmpeg-binary.js';
import { FFMPEG_PATH } from '../helpers/paths.js';

describe('ffmpeg binary choice', () => {
  it('parses release and git-build version lines', () => {
    assert.deepEqual(parseFfmpegVersion('ffmpeg version 5.1.6-0+deb12u1 Copyright (c) 2000-2024 the FFmpeg developers\n'), { version: '5.1.6-0+deb12u1', major: 5 });
    assert.deepEqual(parseFfmpegVersion('ffmpeg version n7.1 Copyright'), { version: 'n7.1', major: 7 });
    assert.deepEqual(parseFfmpegVersion('ffmpeg version N-47683-g0e8eb07980-static https://johnvansickle.com/ffmpeg/'), { version: 'N-47683-g0e8eb07980-static', major: null });
    assert.equal(parseFfmpegVersion('bash: ffmpeg: command not found'), null);
  });

  it('the bundled binary runs and reports its version', () => {
    const v = ffmpegVersion(FFMPEG_PATH);
    assert.ok(v !== null && v.version.length > 0, String(v));
  });

  it('no system ffmpeg, or one that is too old or unversioned: the bundled one, saying why', () => {
    const missing = chooseFfmpeg(null, () => FFMPEG_PATH, '/nonexistent/ffmpeg');
    assert.equal(missing.path, FFMPEG_PATH);
    assert.equal(missing.source, 'bundled');
    assert.match(String(missing.systemSkipped), /\/nonexistent\/ffmpeg not found or does not run/);
    assert.ok(missing.version !== null);
    const old = chooseFfmpeg(null, () => '/the/bundled/one', FFMPEG_PATH, 99);
    assert.equal(old.source, 'bundled');
    assert.match(String(old.systemSkipped), /is version .*, expected 99 or newer/);
  });

  it('ffmpeg.path wins over both', () => {
    const c = chooseFfmpeg(FFMPEG_PATH, () => '/never/used', '/never/used');
    assert.deepEqual([c.path, c.source], [FFMPEG_PATH, 'config']);
  });
});
