import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { buildFfmpegArgs, parseSourceUrl, videoFilter, type FfmpegArgsOptions } from '../../pipeline/sources/index.js';
import { FFMPEG_PATH, SAMPLE_CLIP_VAL } from '../helpers/paths.js';

function opts(url: string, over: Partial<FfmpegArgsOptions> = {}): FfmpegArgsOptions {
  return {
    source: parseSourceUrl(url),
    loop: false,
    realtime: false,
    rtspTransport: 'tcp',
    width: 480,
    height: 360,
    maxFps: null,
    showinfo: true,
    ioTimeoutMs: 5000,
    threads: 0, // ffmpeg's own choice: no -threads, so inputPart() is the source kind's options alone
    ...over,
  };
}

/** The options given before `-i`. */
function inputPart(args: string[]): string[] {
  const i = args.indexOf('-i');
  return args.slice(args.indexOf('-loglevel') + 2, i);
}

describe('buildFfmpegArgs', () => {
  it('always ends in raw RGB24 on stdout, video only, passthrough sync, quiet global options', () => {
    const args = buildFfmpegArgs(opts('/x/clip.mp4'));
    assert.deepEqual(args.slice(0, 5), ['-nostdin', '-hide_banner', '-nostats', '-loglevel', 'level+info']);
    assert.deepEqual(args.slice(-5), ['-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
    for (const flag of ['-an', '-sn', '-dn']) assert.ok(args.includes(flag), flag);
    assert.equal(args[args.indexOf('-vsync') + 1], 'passthrough');
    assert.equal(args[args.indexOf('-map') + 1], '0:v:0');
    assert.equal(args[args.indexOf('-i') + 1], 'file:/x/clip.mp4');
    assert.equal(args.indexOf('-i'), args.lastIndexOf('-i'));
  });

  it('file input: -re only when realtime, -stream_loop -1 only when loop', () => {
    assert.deepEqual(inputPart(buildFfmpegArgs(opts('/x.mp4'))), []);
    assert.deepEqual(inputPart(buildFfmpegArgs(opts('/x.mp4', { realtime: true }))), ['-re']);
    assert.deepEqual(inputPart(buildFfmpegArgs(opts('/x.mp4', { loop: true }))), ['-stream_loop', '-1']);
    assert.deepEqual(inputPart(buildFfmpegArgs(opts('file:///x.mp4', { loop: true, realtime: true }))), [
      '-re', '-stream_loop', '-1',
    ]);
  });

  it('rtsp input: transport and the ffmpeg 4.x socket timeout in microseconds; never -re or -stream_loop', () => {
    const args = buildFfmpegArgs(opts('rtsp://u:p@cam/x', { rtspTransport: 'udp', ioTimeoutMs: 2500, loop: true, realtime: true }));
    assert.deepEqual(inputPart(args), ['-rtsp_transport', 'udp', '-stimeout', '2500000']);
    assert.equal(args[args.indexOf('-i') + 1], 'rtsp://u:p@cam/x');
  });

  it('http input: reconnect options and an I/O timeout', () => {
    assert.deepEqual(inputPart(buildFfmpegArgs(opts('https://h/live.m3u8', { ioTimeoutMs: 3000 }))), [
      '-reconnect', '1', '-reconnect_streamed', '1', '-reconnect_delay_max', '2', '-rw_timeout', '3000000',
    ]);
  });

  it('v4l2 input: -f v4l2 and the device path', () => {
    const args = buildFfmpegArgs(opts('v4l2:///dev/video2'));
    assert.deepEqual(inputPart(args), ['-f', 'v4l2']);
    assert.equal(args[args.indexOf('-i') + 1], '/dev/video2');
  });

  it('filter chain: fps cap first, then scale, then showinfo; warning log level without showinfo', () => {
    assert.equal(videoFilter({ width: 320, height: 240, maxFps: 5, showinfo: true }), 'fps=fps=5,scale=320:240:flags=bilinear,showinfo=checksum=0');
    assert.equal(videoFilter({ width: 320, height: 240, maxFps: null, showinfo: false }), 'scale=320:240:flags=bilinear');
    const args = buildFfmpegArgs(opts('/x.mp4', { showinfo: false, maxFps: 2.5 }));
    assert.equal(args[args.indexOf('-loglevel') + 1], 'level+warning');
    assert.equal(args[args.indexOf('-vf') + 1], 'fps=fps=2.5,scale=480:360:flags=bilinear');
  });

  it('decoder threads: -threads N before -i (the default, 1, when not given), left out at 0', () => {
    const { threads: _omit, ...noThreads } = opts('/x.mp4', { loop: true });
    assert.deepEqual(inputPart(buildFfmpegArgs(noThreads)), ['-threads', '1', '-stream_loop', '-1']);
    assert.deepEqual(inputPart(buildFfmpegArgs(opts('rtsp://cam/x', { threads: 2 }))).slice(0, 2), ['-threads', '2']);
    assert.equal(buildFfmpegArgs(opts('/x.mp4')).indexOf('-threads'), -1);
    assert.throws(() => buildFfmpegArgs(opts('/x.mp4', { threads: -1 })), RangeError);
  });

  it('rejects an impossible output size or rate', () => {
    assert.throws(() => buildFfmpegArgs(opts('/x.mp4', { width: 0 })), RangeError);
    assert.throws(() => buildFfmpegArgs(opts('/x.mp4', { height: 3.5 })), RangeError);
    assert.throws(() => buildFfmpegArgs(opts('/x.mp4', { maxFps: 0 })), RangeError);
  });

  it('the real ffmpeg accepts the file arguments and writes exactly frames*W*H*3 bytes', () => {
    const w = 64;
    const h = 48;
    const args = buildFfmpegArgs(opts(SAMPLE_CLIP_VAL, { width: w, height: h, maxFps: 5, threads: 1 }));
    const r = spawnSync(FFMPEG_PATH, args, { maxBuffer: 64 * 1024 * 1024, timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr.toString());
    // 100 frames at 10 fps capped to 5 fps -> 50 frames.
    assert.equal(r.stdout.length, 50 * w * h * 3);
    const showinfo = r.stderr.toString().split('\n').filter((l) => / n:\s*\d+ .*pts_time:/.test(l));
    assert.equal(showinfo.length, 50, 'one showinfo line per output frame');
  });

  it('the real ffmpeg accepts the rtsp and http input options (fails on the connection, not the options)', () => {
    for (const url of ['rtsp://127.0.0.1:9/none', 'http://127.0.0.1:9/none.m3u8']) {
      const r = spawnSync(FFMPEG_PATH, buildFfmpegArgs(opts(url, { ioTimeoutMs: 1000 })), { timeout: 20_000 });
      const err = r.stderr.toString();
      assert.notEqual(r.status, 0);
      assert.doesNotMatch(err, /Unrecognized option|Option not found|Error splitting/, err);
      assert.match(err, /Connection refused/, err);
    }
  });
});
