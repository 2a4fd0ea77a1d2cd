/**
 * The hand-written baseline JPEG encoder (JFIF, 4:4:4, Huffman tables of ITU T.81 Annex K) that
 * made the daemon's preview JPEGs until sharp replaced it (pipeline/publish/jpeg-encoder.ts). The
 * daemon does not use it: it is kept only as the reference scripts/bench-jpeg.ts measures the
 * libraries against, so the comparison can be run again.
 */

// Natural (row-major) index → position in zig-zag order.
const ZIGZAG = new Uint8Array([
  0, 1, 5, 6, 14, 15, 27, 28, 2, 4, 7, 13, 16, 26, 29, 42, 3, 8, 12, 17, 25, 30, 41, 43, 9, 11, 18, 24, 31, 40, 44, 53, 10, 19, 23, 32, 39, 45,
  52, 54, 20, 22, 33, 38, 46, 51, 55, 60, 21, 34, 37, 47, 50, 56, 59, 61, 35, 36, 48, 49, 57, 58, 62, 63,
]);

// Annex K quantisation tables (natural order), scaled by quality.
const LUMA_Q = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56,
  68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA_Q = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
  99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

// Annex K Huffman tables: code counts per length 1…16, then the symbols.
const DC_LUMA_BITS = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
const DC_CHROMA_BITS = [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
const DC_VALUES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const AC_LUMA_BITS = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
const AC_LUMA_VALUES = [
  0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61, 0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08,
  0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52, 0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25, 0x26, 0x27, 0x28,
  0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59,
  0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
  0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6,
  0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2,
  0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
];
const AC_CHROMA_BITS = [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77];
const AC_CHROMA_VALUES = [
  0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61, 0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91,
  0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33, 0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18, 0x19, 0x1a, 0x26,
  0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58,
  0x59, 0x5a, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87,
  0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4,
  0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda,
  0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
];

// AAN DCT output scale factors per row/column.
const AAN = [1.0, 1.387039845, 1.306562965, 1.175875602, 1.0, 0.785694958, 0.5411961, 0.275899379];

interface HuffmanTable {
  /** Code and code length by symbol (0…255). */
  readonly code: Uint16Array;
  readonly size: Uint8Array;
}

function huffmanTable(bits: readonly number[], values: readonly number[]): HuffmanTable {
  const code = new Uint16Array(256);
  const size = new Uint8Array(256);
  let c = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let i = 0; i < (bits[len - 1] ?? 0); i++) {
      const sym = values[k++] ?? 0;
      code[sym] = c++;
      size[sym] = len;
    }
    c <<= 1;
  }
  return { code, size };
}

const DC_LUMA = huffmanTable(DC_LUMA_BITS, DC_VALUES);
const DC_CHROMA = huffmanTable(DC_CHROMA_BITS, DC_VALUES);
const AC_LUMA = huffmanTable(AC_LUMA_BITS, AC_LUMA_VALUES);
const AC_CHROMA = huffmanTable(AC_CHROMA_BITS, AC_CHROMA_VALUES);

function scaledTable(base: readonly number[], quality: number): Uint8Array {
  const sf = quality < 50 ? Math.floor(5000 / quality) : 200 - quality * 2;
  return Uint8Array.from(base, (q) => Math.min(255, Math.max(1, Math.floor((q * sf + 50) / 100))));
}

/** Reciprocal divisors folding the AAN scale into quantisation (natural order). */
function divisors(q: Uint8Array): Float32Array {
  const out = new Float32Array(64);
  for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) out[r * 8 + c] = 1 / ((q[r * 8 + c] ?? 1) * (AAN[r] ?? 1) * (AAN[c] ?? 1) * 8);
  return out;
}

/** Headers: SOI, APP0 (JFIF), DQT, SOF0 (filled per image), DHT; SOS follows. */
function headerBytes(lumaQ: Uint8Array, chromaQ: Uint8Array): Uint8Array {
  const b: number[] = [0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0];
  b.push(0xff, 0xdb, 0, 132, 0);
  const zz = (q: Uint8Array): number[] => {
    const out = new Array<number>(64);
    for (let i = 0; i < 64; i++) out[ZIGZAG[i] ?? 0] = q[i] ?? 1;
    return out;
  };
  b.push(...zz(lumaQ), 1, ...zz(chromaQ));
  return Uint8Array.from(b);
}

function dhtBytes(): Uint8Array {
  const tables: [number, number[], number[]][] = [
    [0x00, DC_LUMA_BITS, DC_VALUES],
    [0x10, AC_LUMA_BITS, AC_LUMA_VALUES],
    [0x01, DC_CHROMA_BITS, DC_VALUES],
    [0x11, AC_CHROMA_BITS, AC_CHROMA_VALUES],
  ];
  const body: number[] = [];
  for (const [id, bits, values] of tables) body.push(id, ...bits, ...values);
  const len = body.length + 2;
  return Uint8Array.from([0xff, 0xc4, len >> 8, len & 0xff, ...body]);
}

const SOS = Uint8Array.from([0xff, 0xda, 0, 12, 3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 0x3f, 0]);
const DHT = dhtBytes();

export class HandWrittenJpegEncoder {
  readonly quality: number;
  private readonly head: Uint8Array;
  private readonly lumaDiv: Float32Array;
  private readonly chromaDiv: Float32Array;
  // Per-block scratch (one block at a time).
  private readonly yBlock = new Float32Array(64);
  private readonly cbBlock = new Float32Array(64);
  private readonly crBlock = new Float32Array(64);
  private readonly coeffs = new Int32Array(64);
  private out: Uint8Array = new Uint8Array(64 * 1024);
  private pos = 0;
  private bitBuf = 0;
  private bitCnt = 0;

  constructor(quality: number) {
    if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new RangeError(`JpegEncoder: quality ${quality}; expected an integer 1…100`);
    this.quality = quality;
    const lq = scaledTable(LUMA_Q, quality);
    const cq = scaledTable(CHROMA_Q, quality);
    this.head = headerBytes(lq, cq);
    this.lumaDiv = divisors(lq);
    this.chromaDiv = divisors(cq);
  }

  /** Encodes `width`×`height` RGB24 pixels (row-major, no padding); returns a fresh JFIF file. */
  encode(rgb: Uint8Array, width: number, height: number): Buffer {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width > 0xffff || height > 0xffff) {
      throw new RangeError(`JpegEncoder.encode: size ${width}x${height}; expected 1…65535 on each side`);
    }
    if (rgb.length < width * height * 3) throw new RangeError(`JpegEncoder.encode: ${rgb.length} bytes; expected ${width * height * 3} (${width}x${height} RGB)`);
    this.pos = 0;
    this.bitBuf = 0;
    this.bitCnt = 0;
    this.ensure(this.head.length + DHT.length + SOS.length + 32);
    this.writeBytes(this.head);
    this.writeBytes(Uint8Array.from([0xff, 0xc0, 0, 17, 8, height >> 8, height & 0xff, width >> 8, width & 0xff, 3, 1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1]));
    this.writeBytes(DHT);
    this.writeBytes(SOS);

    let dcY = 0;
    let dcCb = 0;
    let dcCr = 0;
    const { yBlock, cbBlock, crBlock } = this;
    for (let by = 0; by < height; by += 8) {
      for (let bx = 0; bx < width; bx += 8) {
        // An 8×8 block can hold at most ~3 × 64 × 4 bytes of entropy data (with stuffing).
        this.ensure(1024);
        for (let r = 0; r < 8; r++) {
          const y = Math.min(by + r, height - 1); // edge blocks repeat the last row/column
          const row = y * width;
          for (let c = 0; c < 8; c++) {
            const p = (row + Math.min(bx + c, width - 1)) * 3;
            const R = rgb[p] as number;
            const G = rgb[p + 1] as number;
            const B = rgb[p + 2] as number;
            const k = r * 8 + c;
            yBlock[k] = 0.299 * R + 0.587 * G + 0.114 * B - 128;
            cbBlock[k] = -0.168736 * R - 0.331264 * G + 0.5 * B;
            crBlock[k] = 0.5 * R - 0.418688 * G - 0.081312 * B;
          }
        }
        dcY = this.block(yBlock, this.lumaDiv, dcY, DC_LUMA, AC_LUMA);
        dcCb = this.block(cbBlock, this.chromaDiv, dcCb, DC_CHROMA, AC_CHROMA);
        dcCr = this.block(crBlock, this.chromaDiv, dcCr, DC_CHROMA, AC_CHROMA);
      }
    }
    // Pad the last byte with 1-bits, then EOI.
    if (this.bitCnt > 0) this.writeBits((1 << (8 - this.bitCnt)) - 1, 8 - this.bitCnt);
    this.ensure(2);
    this.out[this.pos++] = 0xff;
    this.out[this.pos++] = 0xd9;
    return Buffer.from(this.out.subarray(0, this.pos));
  }

  /** DCT, quantise, zig-zag and entropy-code one block; returns its DC value. */
  private block(data: Float32Array, div: Float32Array, prevDc: number, dc: HuffmanTable, ac: HuffmanTable): number {
    fdct(data);
    const zz = this.coeffs;
    for (let i = 0; i < 64; i++) {
      const v = (data[i] as number) * (div[i] as number);
      zz[ZIGZAG[i] as number] = v > 0 ? (v + 0.5) | 0 : (v - 0.5) | 0;
    }
    const dcVal = zz[0] as number;
    const diff = dcVal - prevDc;
    if (diff === 0) this.writeBits(dc.code[0] as number, dc.size[0] as number);
    else {
      const nb = bitLength(diff);
      this.writeBits(dc.code[nb] as number, dc.size[nb] as number);
      this.writeBits(diff < 0 ? diff + (1 << nb) - 1 : diff, nb);
    }
    let end = 63;
    while (end > 0 && zz[end] === 0) end--;
    let i = 1;
    while (i <= end) {
      const start = i;
      while (zz[i] === 0) i++; // stops at or before `end` (zz[end] !== 0)
      let zeros = i - start;
      while (zeros >= 16) {
        this.writeBits(ac.code[0xf0] as number, ac.size[0xf0] as number); // ZRL: 16 zeros
        zeros -= 16;
      }
      const v = zz[i] as number;
      const nb = bitLength(v);
      const sym = (zeros << 4) | nb;
      this.writeBits(ac.code[sym] as number, ac.size[sym] as number);
      this.writeBits(v < 0 ? v + (1 << nb) - 1 : v, nb);
      i++;
    }
    if (end !== 63) this.writeBits(ac.code[0] as number, ac.size[0] as number); // EOB
    return dcVal;
  }

  private writeBits(value: number, len: number): void {
    this.bitBuf = (this.bitBuf << len) | value;
    this.bitCnt += len;
    while (this.bitCnt >= 8) {
      const byte = (this.bitBuf >>> (this.bitCnt - 8)) & 0xff;
      this.out[this.pos++] = byte;
      if (byte === 0xff) this.out[this.pos++] = 0; // byte stuffing
      this.bitCnt -= 8;
    }
    this.bitBuf &= (1 << this.bitCnt) - 1;
  }

  private writeBytes(bytes: Uint8Array): void {
    this.out.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  private ensure(extra: number): void {
    if (this.pos + extra <= this.out.length) return;
    const grown = new Uint8Array(Math.max(this.out.length * 2, this.pos + extra));
    grown.set(this.out.subarray(0, this.pos));
    this.out = grown;
  }
}

function bitLength(v: number): number {
  return 32 - Math.clz32(v < 0 ? -v : v);
}

/** In-place AAN forward DCT of an 8×8 block (rows, then columns); output scaled per AAN. */
function fdct(d: Float32Array): void {
  for (let pass = 0; pass < 2; pass++) {
    const step = pass === 0 ? 1 : 8; // element stride within a row (pass 0) or column (pass 1)
    const next = pass === 0 ? 8 : 1; // stride between rows / columns
    for (let k = 0; k < 8; k++) {
      const o = k * next;
      const d0 = d[o] as number;
      const d1 = d[o + step] as number;
      const d2 = d[o + 2 * step] as number;
      const d3 = d[o + 3 * step] as number;
      const d4 = d[o + 4 * step] as number;
      const d5 = d[o + 5 * step] as number;
      const d6 = d[o + 6 * step] as number;
      const d7 = d[o + 7 * step] as number;
      const t0 = d0 + d7;
      const t7 = d0 - d7;
      const t1 = d1 + d6;
      const t6 = d1 - d6;
      const t2 = d2 + d5;
      const t5 = d2 - d5;
      const t3 = d3 + d4;
      const t4 = d3 - d4;
      let t10 = t0 + t3;
      const t13 = t0 - t3;
      let t11 = t1 + t2;
      let t12 = t1 - t2;
      d[o] = t10 + t11;
      d[o + 4 * step] = t10 - t11;
      const z1 = (t12 + t13) * 0.707106781;
      d[o + 2 * step] = t13 + z1;
      d[o + 6 * step] = t13 - z1;
      t10 = t4 + t5;
      t11 = t5 + t6;
      t12 = t6 + t7;
      const z5 = (t10 - t12) * 0.382683433;
      const z2 = 0.5411961 * t10 + z5;
      const z4 = 1.306562965 * t12 + z5;
      const z3 = t11 * 0.707106781;
      const z11 = t7 + z3;
      const z13 = t7 - z3;
      d[o + 5 * step] = z13 + z2;
      d[o + 3 * step] = z13 - z2;
      d[o + step] = z11 + z4;
      d[o + 7 * step] = z11 - z4;
    }
  }
}
