import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SegdError } from '../../pipeline/core/errors.js';
import { createLineRedactor, redactUrl } from '../../pipeline/core/redact.js';
import { parseSourceUrl } from '../../pipeline/sources/index.js';

function invalid(url: string, field = 'url'): SegdError {
  try {
    parseSourceUrl(url, field);
  } catch (err) {
    assert.ok(err instanceof SegdError, `expected SegdError for ${url}`);
    return err;
  }
  assert.fail(`parseSourceUrl accepted ${JSON.stringify(url)}`);
}

describe('parseSourceUrl', () => {
  it('classifies every supported kind', () => {
    assert.deepEqual(parseSourceUrl('file:///data/a%20b.mp4'), {
      kind: 'file', input: 'file:/data/a b.mp4', redacted: '/data/a b.mp4', hls: false,
    });
    assert.deepEqual(parseSourceUrl('/abs/clip.mp4'), {
      kind: 'file', input: 'file:/abs/clip.mp4', redacted: '/abs/clip.mp4', hls: false,
    });
    const rel = parseSourceUrl('videos/clip.mp4');
    assert.equal(rel.kind, 'file');
    assert.equal(rel.input, `file:${process.cwd()}/videos/clip.mp4`);

    const rtsp = parseSourceUrl('rtsp://admin:pw@10.0.0.5:554/stream1');
    assert.equal(rtsp.kind, 'rtsp');
    assert.equal(rtsp.input, 'rtsp://admin:pw@10.0.0.5:554/stream1', 'ffmpeg needs the credentials');
    assert.equal(rtsp.redacted, 'rtsp://***:***@10.0.0.5:554/stream1');
    assert.equal(parseSourceUrl('rtsps://cam.local/live').kind, 'rtsp');

    const hls = parseSourceUrl('https://cdn.example/live/index.m3u8?token=abc');
    assert.equal(hls.kind, 'http');
    assert.equal(hls.hls, true);
    assert.equal(hls.redacted, 'https://cdn.example/live/index.m3u8?token=***');
    assert.equal(parseSourceUrl('http://cam/video.mjpg').hls, false);

    assert.deepEqual(parseSourceUrl('v4l2:///dev/video0'), {
      kind: 'v4l2', input: '/dev/video0', redacted: 'v4l2:///dev/video0', hls: false,
    });
    assert.equal(parseSourceUrl('v4l2:///dev/v4l/by-id/usb-cam-video-index0').input, '/dev/v4l/by-id/usb-cam-video-index0');
  });

  it('rejects bad URLs with SEGD_SOURCE_URL_INVALID naming the field, the redacted URL and what was expected', () => {
    const cases: [string, RegExp][] = [
      ['', /empty URL/],
      ['   ', /empty URL/],
      [' rtsp://cam/x', /whitespace/],
      ['rtsp://cam/x\n', /whitespace|control/],
      ['ftp://user:hunter2@host/x.mp4', /unsupported scheme "ftp:"/],
      ['rtmp://host/live', /unsupported scheme "rtmp:"/],
      ['rtsp://', /not a parsable URL|missing host/],
      ['http://', /not a parsable URL|missing host/],
      ['v4l2://host/dev/video0', /no host/],
      ['v4l2:///etc/passwd', /not a video device/],
      ['v4l2:///dev/video', /not a video device/],
      ['file://remote-host/share/a.mp4', /file URL/],
    ];
    for (const [url, why] of cases) {
      const err = invalid(url, 'streams[cam7].url');
      assert.equal(err.code, 'SEGD_SOURCE_URL_INVALID', url);
      assert.match(err.message, /^streams\[cam7\]\.url: /, `field named for ${JSON.stringify(url)}`);
      assert.match(err.message, why, `reason for ${JSON.stringify(url)}: ${err.message}`);
      assert.match(err.message, /expected .*rtsp:\/\/.*v4l2:\/\/\/dev\/videoN/);
      assert.equal(err.details[0], 'streams[cam7].url');
      assert.ok(!err.message.includes('hunter2'), 'password never in the message');
    }
    assert.match(invalid('ftp://user:hunter2@host/x').message, /"ftp:\/\/\*\*\*:\*\*\*@host\/x"/);
    assert.match(invalid('gopher://x').message, /^url: /, 'default field name');
  });
});

describe('redactUrl', () => {
  it('redacts user:password and secret query parameters, keeping everything else', () => {
    assert.equal(redactUrl('rtsp://admin:s3cret@10.1.2.3:554/h264'), 'rtsp://***:***@10.1.2.3:554/h264');
    assert.equal(redactUrl('rtsp://admin@cam/h264'), 'rtsp://***@cam/h264');
    assert.equal(redactUrl('rtsp://admin:p@ss@cam/x'), 'rtsp://***:***@cam/x', 'unencoded @ in the password');
    assert.equal(redactUrl('https://h/x.m3u8?a=1&password=pw&token=t0k&b=2'), 'https://h/x.m3u8?a=***&password=***&token=***&b=***');
    assert.equal(redactUrl('http://h/cgi?user=bob&PWD=x&api_key=k'), 'http://h/cgi?user=***&PWD=***&api_key=***');
    assert.equal(redactUrl('rtsp://cam.local/stream'), 'rtsp://cam.local/stream');
    assert.equal(redactUrl('/data/clip.mp4'), '/data/clip.mp4');
  });

  it('every query parameter is redacted unless its name is known to be harmless (issue 28 F6)', () => {
    for (const name of ['pw', 'loginpas', 'passwrd', 'credentials', 'usr_pwd', 'x', 'Ключ', 'p.w', 'a-b']) {
      const url = `rtsp://cam/live?channel=1&${name}=hunter2xyz&subtype=0`;
      assert.equal(redactUrl(url), `rtsp://cam/live?channel=1&${name}=***&subtype=0`, name);
      assert.equal(createLineRedactor(url)(`login failed with hunter2xyz for ${url}`), `login failed with *** for rtsp://cam/live?channel=1&${name}=***&subtype=0`, name);
    }
    assert.equal(redactUrl('http://h/v?Channel=2&FPS=5&profile=main&track=1'), 'http://h/v?Channel=2&FPS=5&profile=main&track=1');
    // Found by the API body fuzzer: a mistyped URL whose userinfo follows an `@`.
    for (const lead of ['@', ':', '#', '?']) assert.equal(redactUrl(`rtsp:/${lead}u:p@h/x`), `rtsp:/${lead}***:***@h/x`, lead);
    assert.equal(redactUrl('rtsp:/=u:p@h/x'), 'rtsp:/***:***@h/x', 'a user name may hold =');
  });

  it('works on free text such as ffmpeg log lines, and is idempotent', () => {
    const line = "[error] rtsp://admin:wrong@127.0.0.1:8554/clip: Server returned 401 Unauthorized (authorization failed)";
    const once = redactUrl(line);
    assert.equal(once, '[error] rtsp://***:***@127.0.0.1:8554/clip: Server returned 401 Unauthorized (authorization failed)');
    assert.equal(redactUrl(once), once);
    assert.equal(
      redactUrl("Input #0, rtsp, from 'rtsp://u:p%40ss@h/x' and http://a:b@c/d"),
      "Input #0, rtsp, from 'rtsp://***:***@h/x' and http://***:***@c/d",
    );
  });

  it('createLineRedactor also removes the known secrets when they appear outside a URL', () => {
    const redact = createLineRedactor('rtsp://camuser:Tr0ub4dor%26@cam/x');
    assert.equal(redact('auth failed for camuser with Tr0ub4dor& at rtsp://camuser:Tr0ub4dor%26@cam/x'),
      'auth failed for *** with *** at rtsp://***:***@cam/x');
    const plain = createLineRedactor('rtsp://cam/x');
    assert.equal(plain('nothing secret: rtsp://cam/x'), 'nothing secret: rtsp://cam/x');
  });
});
