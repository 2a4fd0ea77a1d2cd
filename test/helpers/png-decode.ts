/**
 * Small, strict PNG decoder for tests: 8-bit grayscale or 8-bit palette, non-interlaced, all five
 * filter types; checks the signature and every chunk CRC. Written from the PNG spec, independent
 * of the encoder under test (it also decodes the CamVid label PNGs, made by another encoder).
 */
import zlib from 'node:zlib';

export interface DecodedPng {
  readonly width: number;
  readonly height: number;
  /** 0 = grayscale, 3 = palette. */
  readonly colorType: number;
  /** One byte per pixel: the grey value or the palette index. */
  readonly pixels: Uint8Array;
  readonly chunkTypes: readonly string[];
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

export function decodePng(data: Uint8Array): DecodedPng {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (!buf.subarray(0, 8).equals(SIGNATURE)) throw new Error('png: bad signature');
  let pos = 8;
  let width = 0;
  let height = 0;
  let colorType = -1;
  const idat: Buffer[] = [];
  const chunkTypes: string[] = [];
  let sawEnd = false;
  while (pos < buf.length) {
    if (pos + 12 > buf.length) throw new Error(`png: truncated chunk at ${pos}`);
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const body = buf.subarray(pos + 8, pos + 8 + len);
    const crc = buf.readUInt32BE(pos + 8 + len);
    if (zlib.crc32(buf.subarray(pos + 4, pos + 8 + len)) !== crc) throw new Error(`png: bad CRC in ${type}`);
    chunkTypes.push(type);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const depth = body[8];
      colorType = body[9] ?? -1;
      const interlace = body[12];
      if (depth !== 8 || (colorType !== 0 && colorType !== 3) || interlace !== 0) {
        throw new Error(`png: unsupported depth ${depth} / colour type ${colorType} / interlace ${interlace}`);
      }
    } else if (type === 'IDAT') {
      idat.push(body);
    } else if (type === 'IEND') {
      sawEnd = true;
      pos += 12 + len;
      break;
    }
    pos += 12 + len;
  }
  if (!sawEnd) throw new Error('png: no IEND');
  if (pos !== buf.length) throw new Error(`png: ${buf.length - pos} bytes after IEND`);
  if (chunkTypes[0] !== 'IHDR') throw new Error('png: first chunk is not IHDR');

  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width + 1;
  if (raw.length !== stride * height) throw new Error(`png: ${raw.length} bytes of scanlines; expected ${stride * height}`);
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * stride] ?? -1;
    const row = y * width;
    const prev = row - width;
    for (let x = 0; x < width; x++) {
      const v = raw[y * stride + 1 + x] ?? 0;
      const a = x > 0 ? (out[row + x - 1] ?? 0) : 0;
      const b = y > 0 ? (out[prev + x] ?? 0) : 0;
      const c = x > 0 && y > 0 ? (out[prev + x - 1] ?? 0) : 0;
      let pred: number;
      switch (filter) {
        case 0: pred = 0; break;
        case 1: pred = a; break;
        case 2: pred = b; break;
        case 3: pred = (a + b) >> 1; break;
        case 4: pred = paeth(a, b, c); break;
        default: throw new Error(`png: row ${y} has filter type ${filter}`);
      }
      out[row + x] = (v + pred) & 0xff;
    }
  }
  return { width, height, colorType, pixels: out, chunkTypes };
}
