import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { MaskEncoders, PngMaskEncoder, encodeDeflate } from '../../pipeline/publish/mask-encoders.js';
import { decodePng } from '../helpers/png-decode.js';
import { loadCamvidMasks } from '../helpers/publish-harness.js';

describe('mask encoders on real CamVid masks', () => {
  const { masks, width, height } = loadCamvidMasks(3);

  it('the test masks are real label maps (sanity of the fixture)', () => {
    assert.equal(width, 480);
    assert.equal(height, 360);
    for (const m of masks) {
      assert.equal(m.length, width * height);
      const ids = new Set(m);
      assert.ok(ids.size >= 3, 'several classes present');
      assert.ok([...ids].every((v) => v <= 11), 'class ids 0…11');
    }
  });

  it('raw is the mask view itself (zero copy)', () => {
    const enc = new MaskEncoders();
    const backing = new Uint8Array(width * height + 10);
    const view = backing.subarray(10);
    const out = enc.encode('raw', view, width, height);
    assert.equal(out, view);
    assert.equal(out.buffer, backing.buffer);
    assert.equal(out.byteOffset, 10);
  });

  it('deflate is a zlib stream that inflates to the exact mask', () => {
    for (const m of masks) {
      const d = encodeDeflate(m);
      assert.equal(d[0], 0x78, 'zlib header (RFC 1950)');
      assert.ok(d.length < m.length / 5, `compresses (${d.length} bytes)`);
      assert.deepEqual(zlib.inflateSync(d), Buffer.from(m));
    }
  });

  it('png is an 8-bit grayscale PNG whose grey values are the class ids', () => {
    const enc = new PngMaskEncoder();
    const outputs: Buffer[] = [];
    for (const m of masks) {
      const png = enc.encode(m, width, height);
      outputs.push(png);
      const d = decodePng(png);
      assert.deepEqual(d.chunkTypes, ['IHDR', 'IDAT', 'IEND']);
      assert.equal(d.colorType, 0);
      assert.deepEqual([d.width, d.height], [width, height]);
      assert.deepEqual(Buffer.from(d.pixels), Buffer.from(m));
    }
    // The scratch buffer is reused across frames; earlier outputs must not change.
    for (let i = 0; i < masks.length; i++) {
      assert.deepEqual(Buffer.from(decodePng(outputs[i] as Buffer).pixels), Buffer.from(masks[i] as Uint8Array));
    }
  });

  it('png handles odd sizes and rejects a mask of the wrong length', () => {
    const enc = new PngMaskEncoder();
    const m = Uint8Array.from({ length: 7 * 3 }, (_, i) => (i * 37) % 256);
    assert.deepEqual([...decodePng(enc.encode(m, 7, 3)).pixels], [...m]);
    assert.throws(() => enc.encode(m, 5, 5), /mask: 21 bytes; expected width\*height = 5\*5/);
  });

  it('refuses a bad deflate level', () => {
    assert.throws(() => new MaskEncoders(12), /deflateLevel: 12/);
  });
});
