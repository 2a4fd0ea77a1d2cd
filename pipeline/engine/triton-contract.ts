/**
 * docs/model-contract.md on a Triton model: what its KServe v2 metadata must say (one input
 * `frames` UINT8 [-1, H, W, 3], one output `mask` UINT8 [-1, H, W], H×W the card's; -1 = Triton's
 * batch dimension, so the model must batch), and what every reply must hold. The same contract
 * io-contract.ts checks on an ONNX Runtime session, in Triton's words.
 */
import { SegdError } from '../core/errors.js';
import { INPUT_NAME, OUTPUT_NAME } from './io-contract.js';
import type { ModelCard } from './model-card.js';
import type { InferOutput, ModelMetadata, TensorMetadata } from './triton-transport.js';

const fmt = (shape: readonly (number | string)[]): string => `[${shape.join(', ')}]`;

function checkTensor(kind: 'input' | 'output', list: readonly TensorMetadata[], name: string, want: readonly number[], problems: string[]): void {
  const names = list.map((t) => `'${t.name}'`);
  if (list.length !== 1 || list[0]?.name !== name) problems.push(`${kind}s: expected exactly one, named '${name}', got [${names.join(', ')}]`);
  const t = list.find((x) => x.name === name);
  if (t === undefined) return;
  if (t.datatype !== 'UINT8') problems.push(`${kind} '${name}': expected datatype UINT8, got ${t.datatype}`);
  if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
    problems.push(`${kind} '${name}': expected shape ${fmt(want)} (-1: the batch dimension; the model must batch), got ${fmt(t.shape)}`);
  }
}

/** Throws SEGD_MODEL_INVALID naming `where` (the Triton model) with every violation. */
export function checkTritonMetadata(meta: ModelMetadata, card: ModelCard, where: string): void {
  const { height: h, width: w } = card.input;
  const problems: string[] = [];
  checkTensor('input', meta.inputs, INPUT_NAME, [-1, h, w, 3], problems);
  checkTensor('output', meta.outputs, OUTPUT_NAME, [-1, h, w], problems);
  if (problems.length > 0) {
    throw new SegdError(
      'SEGD_MODEL_INVALID',
      `triton model ${where} breaks the contract (docs/model-contract.md; H×W ${h}×${w} from the card): ${problems.join('; ')}`,
      problems,
    );
  }
}

/**
 * The mask of a reply for n frames: exactly one output `mask`, UINT8, shape [n, H, W], with
 * n*H*W raw bytes. Returns a view of the reply's own memory (fresh per reply). Throws
 * SEGD_INFERENCE_FAILED naming `where` otherwise.
 */
export function maskOfReply(outputs: readonly InferOutput[], n: number, card: ModelCard, where: string): Uint8Array {
  const want = [n, card.input.height, card.input.width];
  const o = outputs.find((x) => x.name === OUTPUT_NAME);
  const bytes = n * card.input.height * card.input.width;
  let got: string | null = null;
  if (o === undefined) got = `no output '${OUTPUT_NAME}' (got [${outputs.map((x) => `'${x.name}'`).join(', ')}])`;
  else if (o.datatype !== 'UINT8') got = `'${OUTPUT_NAME}' of datatype ${o.datatype}`;
  else if (o.shape.length !== 3 || o.shape.some((d, i) => d !== want[i])) got = `'${OUTPUT_NAME}' of shape ${fmt(o.shape)}`;
  else if (o.raw === null || o.raw.length !== bytes) got = `'${OUTPUT_NAME}' with ${o.raw?.length ?? 0} raw bytes`;
  if (got !== null || o?.raw == null) {
    throw new SegdError('SEGD_INFERENCE_FAILED', `triton model ${where} replied ${got ?? 'without data'} to a batch of ${n}; expected UINT8 ${fmt(want)}`);
  }
  return new Uint8Array(o.raw.buffer, o.raw.byteOffset, o.raw.length);
}

/** Warm-up only (one pass over a mask): class ids must lie in 0..K-1 for the card's K classes. */
export function checkClassIds(mask: Uint8Array, card: ModelCard, where: string): void {
  let top = 0;
  for (let i = 0; i < mask.length; i++) if ((mask[i] as number) > top) top = mask[i] as number;
  const k = card.classes.length;
  if (top >= k) {
    const msg = `triton model ${where} produced class id ${top} in its warm-up mask, but the card lists ${k} classes (ids 0..${k - 1}): the card does not describe this model's output`;
    throw new SegdError('SEGD_MODEL_INVALID', msg, [msg]);
  }
}
