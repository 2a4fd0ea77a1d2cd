/**
 * Builders for model files that break the contract, written into a temp dir for the engine tests.
 *
 * There is no JS ONNX builder installed, so the contract-breaking graphs are hand-encoded ONNX
 * protobuf: a few field numbers from onnx.proto (ModelProto, GraphProto, NodeProto, ValueInfoProto,
 * TypeProto, TensorShapeProto, OperatorSetIdProto) and the protobuf wire format (varints and
 * length-delimited fields). ONNX Runtime itself then loads them, so a wrong encoding fails loudly.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** onnx.proto TensorProto.DataType values used here. */
export const ELEM = { float32: 1, uint8: 2 } as const;
type ElemName = keyof typeof ELEM;

/** A dimension: a fixed size or a symbolic name (e.g. 'N'). */
export type Dim = number | string;

function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function fieldVarint(field: number, value: number): number[] {
  return [...varint((field << 3) | 0), ...varint(value)];
}

function fieldBytes(field: number, bytes: readonly number[]): number[] {
  return [...varint((field << 3) | 2), ...varint(bytes.length), ...bytes];
}

function fieldString(field: number, s: string): number[] {
  return fieldBytes(field, [...Buffer.from(s, 'utf8')]);
}

/** `dims` null: the shape is not declared at all (ORT reports it as an empty shape). */
function valueInfo(name: string, elem: ElemName, dims: readonly Dim[] | null): number[] {
  // TensorShapeProto.Dimension: dim_value = 1 (int64), dim_param = 2 (string).
  const shape = (dims ?? []).flatMap((d) => fieldBytes(1, typeof d === 'number' ? fieldVarint(1, d) : fieldString(2, d)));
  // TypeProto.Tensor: elem_type = 1, shape = 2.  TypeProto: tensor_type = 1.
  const tensorType = [...fieldVarint(1, ELEM[elem]), ...(dims === null ? [] : fieldBytes(2, shape))];
  // ValueInfoProto: name = 1, type = 2.
  return [...fieldString(1, name), ...fieldBytes(2, fieldBytes(1, tensorType))];
}

export interface TensorSpec {
  readonly name: string;
  readonly elem: ElemName;
  /** null: shape not declared. */
  readonly dims: readonly Dim[] | null;
}

/** A node attribute: an int (`i`) or a list of ints (`ints`). */
export type Attr = { readonly name: string; readonly i: number } | { readonly name: string; readonly ints: readonly number[] };

export interface NodeSpec {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs?: readonly Attr[];
}

/** A constant uint8 tensor (graph initializer). */
export interface InitSpec {
  readonly name: string;
  readonly dims: readonly number[];
  readonly data: Uint8Array;
}

function attribute(a: Attr): number[] {
  // AttributeProto: name = 1, i = 3, ints = 8, type = 20 (INT = 2, INTS = 7).
  return 'i' in a
    ? [...fieldString(1, a.name), ...fieldVarint(3, a.i), ...fieldVarint(20, 2)]
    : [...fieldString(1, a.name), ...a.ints.flatMap((v) => fieldVarint(8, v)), ...fieldVarint(20, 7)];
}

function nodeProto(n: NodeSpec, index: number): number[] {
  // NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5.
  return [
    ...n.inputs.flatMap((x) => fieldString(1, x)),
    ...n.outputs.flatMap((x) => fieldString(2, x)),
    ...fieldString(3, `n${index}`),
    ...fieldString(4, n.op),
    ...(n.attrs ?? []).flatMap((a) => fieldBytes(5, attribute(a))),
  ];
}

function initializer(t: InitSpec): number[] {
  // TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9.
  return [...t.dims.flatMap((d) => fieldVarint(1, d)), ...fieldVarint(2, ELEM.uint8), ...fieldString(8, t.name), ...fieldBytes(9, [...t.data])];
}

/** Serializes a ModelProto (IR 8, default domain opset 17) for a graph with one input and one output. */
export function graphModel(spec: {
  readonly nodes: readonly NodeSpec[];
  readonly input: TensorSpec;
  readonly output: TensorSpec;
  readonly initializers?: readonly InitSpec[];
}): Uint8Array {
  // GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12.
  const graph = [
    ...spec.nodes.flatMap((n, i) => fieldBytes(1, nodeProto(n, i))),
    ...fieldString(2, 'segd-test'),
    ...(spec.initializers ?? []).flatMap((t) => fieldBytes(5, initializer(t))),
    ...fieldBytes(11, valueInfo(spec.input.name, spec.input.elem, spec.input.dims)),
    ...fieldBytes(12, valueInfo(spec.output.name, spec.output.elem, spec.output.dims)),
  ];
  // ModelProto: ir_version = 1, producer_name = 2, graph = 7, opset_import = 8 (domain = 1, version = 2).
  const model = [
    ...fieldVarint(1, 8),
    ...fieldString(2, 'segd-test-bad-models'),
    ...fieldBytes(7, graph),
    ...fieldBytes(8, [...fieldString(1, ''), ...fieldVarint(2, 17)]),
  ];
  return Uint8Array.from(model);
}

/** A one-node graph `output = op(input)` (op without attributes, e.g. Identity). */
export function oneNodeModel(op: string, input: TensorSpec, output: TensorSpec): Uint8Array {
  return graphModel({ nodes: [{ op, inputs: [input.name], outputs: [output.name] }], input, output });
}

/** A valid ONNX whose input is float32 (the contract wants uint8): Identity frames → mask. */
export function float32InputModel(height: number, width: number): Uint8Array {
  return oneNodeModel(
    'Identity',
    { name: 'frames', elem: 'float32', dims: ['N', height, width, 3] },
    { name: 'mask', elem: 'float32', dims: ['N', height, width, 3] },
  );
}

/** A valid ONNX with the right dtype but a wrong input name (`image` instead of `frames`). */
export function wrongInputNameModel(height: number, width: number): Uint8Array {
  return oneNodeModel(
    'Identity',
    { name: 'image', elem: 'uint8', dims: ['N', height, width, 3] },
    { name: 'mask', elem: 'uint8', dims: ['N', height, width, 3] },
  );
}

/**
 * A contract-valid model that fails at RUN time on some inputs: mask = max over RGB of
 * table[pixel], where the table has 200 entries, so any byte >= 200 in a frame makes ONNX
 * Runtime's Gather reject the batch (index out of bounds). Bytes < 200 give mask = max(R, G, B),
 * so its card needs 200 classes (`cardClasses(200)`): the engine's warm-up frame is grey 128.
 */
export function failsOnBrightPixelsModel(height: number, width: number): Uint8Array {
  return graphModel({
    input: { name: 'frames', elem: 'uint8', dims: ['N', height, width, 3] },
    output: { name: 'mask', elem: 'uint8', dims: ['N', height, width] },
    initializers: [{ name: 'table', dims: [200], data: Uint8Array.from({ length: 200 }, (_, i) => i) }],
    nodes: [
      { op: 'Cast', inputs: ['frames'], outputs: ['idx'], attrs: [{ name: 'to', i: 7 /* INT64 */ }] },
      { op: 'Gather', inputs: ['table', 'idx'], outputs: ['g'], attrs: [{ name: 'axis', i: 0 }] },
      { op: 'ReduceMax', inputs: ['g'], outputs: ['mask'], attrs: [{ name: 'axes', ints: [3] }, { name: 'keepdims', i: 0 }] },
    ],
  });
}

/** `k` card classes `c0 … c{k-1}` (ids in order, grey colours): for models whose mask ids reach k-1. */
export function cardClasses(k: number): { id: number; name: string; color: [number, number, number] }[] {
  return Array.from({ length: k }, (_, id) => ({ id, name: `c${id}`, color: [id, id, id] }));
}

/** A card that satisfies docs/model-contract.md for `model` (sha256 included); `patch` overrides top-level keys. */
export function contractCard(model: Uint8Array, height: number, width: number, patch: Record<string, unknown> = {}): string {
  const card = {
    format: 'segd-model-card/1',
    name: 'test-model',
    architecture: 'test',
    onnx: { file: 'test.onnx', opset: 17, sha256: createHash('sha256').update(model).digest('hex') },
    input: { name: 'frames', height, width, layout: 'NHWC', dtype: 'uint8', color: 'RGB' },
    output: { name: 'mask', layout: 'NHW', dtype: 'uint8' },
    classes: [
      { id: 0, name: 'a', color: [0, 0, 0] },
      { id: 1, name: 'b', color: [255, 255, 255] },
    ],
    metrics: { split: 'val', miou: null },
    training: { summary: 'hand-encoded test graph, never trained' },
    ...patch,
  };
  return JSON.stringify(card, null, 2);
}

/** Batch dimension fixed to 1 (the contract wants it dynamic): mask = max over RGB. */
export function fixedBatchModel(height: number, width: number): Uint8Array {
  return graphModel({
    input: { name: 'frames', elem: 'uint8', dims: [1, height, width, 3] },
    output: { name: 'mask', elem: 'uint8', dims: [1, height, width] },
    nodes: [{ op: 'ReduceMax', inputs: ['frames'], outputs: ['mask'], attrs: [{ name: 'axes', ints: [3] }, { name: 'keepdims', i: 0 }] }],
  });
}

/**
 * Right names and dtypes, every dimension symbolic (as exports with dynamic axes declare them),
 * but the graph reduces over H instead of RGB: a real [N, H, W, 3] input gives [N, W, 3]. Only a
 * warm-up run can tell.
 */
export function dynamicAxesWrongOutputModel(): Uint8Array {
  return graphModel({
    input: { name: 'frames', elem: 'uint8', dims: ['N', 'H', 'W', 'C'] },
    output: { name: 'mask', elem: 'uint8', dims: ['N', 'A', 'B'] },
    nodes: [{ op: 'ReduceMax', inputs: ['frames'], outputs: ['mask'], attrs: [{ name: 'axes', ints: [1] }, { name: 'keepdims', i: 0 }] }],
  });
}

/** Bytes that are not a protobuf at all. */
export function garbageBytes(): Uint8Array {
  return Uint8Array.from(Buffer.from('this is not an onnx model\n'.repeat(40), 'utf8'));
}

/** A scratch directory for model files; `cleanup()` removes it. */
export interface ModelDir {
  readonly dir: string;
  /** Writes `name` (e.g. 'bad.onnx') and returns its path. */
  write(name: string, content: Uint8Array | string): Promise<string>;
  /** Writes `<stem>.onnx` and, unless `card` is null, `<stem>.json` beside it; returns the model path. */
  writeModel(stem: string, model: Uint8Array, card: string | null): Promise<string>;
  cleanup(): Promise<void>;
}

export async function makeModelDir(): Promise<ModelDir> {
  const dir = await mkdtemp(join(tmpdir(), 'segd-models-'));
  return {
    dir,
    async write(name, content) {
      const p = join(dir, name);
      await writeFile(p, content);
      return p;
    },
    async writeModel(stem, model, card) {
      if (card !== null) await writeFile(join(dir, `${stem}.json`), card);
      const p = join(dir, `${stem}.onnx`);
      await writeFile(p, model);
      return p;
    },
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
