/**
 * The graph half of docs/model-contract.md: exactly one input `frames` uint8 [N,H,W,3] and one
 * output `mask` uint8 [N,H,W], H×W equal to the card's. Checked from the session's metadata at
 * load, and again from a real output during warm-up (covers graphs whose shapes are symbolic);
 * the warm-up output's class ids must also lie in 0..K-1 for the card's K classes, so a model
 * paired with another dataset's card (more classes than the card lists) is refused at load
 * instead of sending ids that clients and the viewer cannot name.
 */
import type { InferenceSession, OnnxValue } from 'onnxruntime-node';
import { SegdError } from '../core/errors.js';
import type { ModelCard } from './model-card.js';

export const INPUT_NAME = 'frames';
export const OUTPUT_NAME = 'mask';

type Dim = number | string;

function fmtShape(shape: readonly Dim[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * `want` null: the batch dimension, which must be dynamic (symbolic). A number: that size, or a
 * symbolic dim (accepted here, checked on a real output at warm-up).
 */
function dimOk(d: Dim | undefined, want: number | null): boolean {
  if (d === undefined) return false;
  if (want === null) return typeof d === 'string';
  return typeof d === 'string' || d === want;
}

function checkValue(
  kind: 'input' | 'output',
  list: readonly InferenceSession.ValueMetadata[],
  name: string,
  want: readonly (number | null)[],
  problems: string[],
): void {
  const wantShape = fmtShape(want.map((w) => w ?? 'N'));
  const names = list.map((m) => m.name);
  if (list.length !== 1 || names[0] !== name) {
    problems.push(`${kind}s: expected exactly one, named '${name}', got [${names.map((n) => `'${n}'`).join(', ')}]`);
  }
  const meta = list.find((m) => m.name === name);
  if (!meta) return;
  if (!meta.isTensor) {
    problems.push(`${kind} '${name}': expected a tensor, got a non-tensor value`);
    return;
  }
  if (meta.type !== 'uint8') problems.push(`${kind} '${name}': expected dtype uint8, got ${meta.type}`);
  // An empty shape means the graph does not declare one: left to the warm-up check.
  if (meta.shape.length === 0) return;
  if (meta.shape.length !== want.length || !want.every((w, i) => dimOk(meta.shape[i], w))) {
    problems.push(`${kind} '${name}': expected shape ${wantShape}, got ${fmtShape(meta.shape)}`);
  }
}

/** Throws SEGD_MODEL_INVALID naming `modelPath` with every violation of the graph contract. */
export function checkSessionIo(session: InferenceSession, card: ModelCard, modelPath: string): void {
  const { height: h, width: w } = card.input;
  const problems: string[] = [];
  checkValue('input', session.inputMetadata, INPUT_NAME, [null, h, w, 3], problems);
  checkValue('output', session.outputMetadata, OUTPUT_NAME, [null, h, w], problems);
  if (problems.length > 0) {
    throw new SegdError(
      'SEGD_MODEL_INVALID',
      `model ${modelPath} breaks the contract (docs/model-contract.md; H×W ${h}×${w} from the card): ${problems.join('; ')}`,
      problems,
    );
  }
}

/** The largest byte of `data` (load time only: one pass over a warm-up mask). */
function maxByte(data: Uint8Array): number {
  let top = 0;
  for (let i = 0; i < data.length; i++) if ((data[i] as number) > top) top = data[i] as number;
  return top;
}

/**
 * Checks a real output for `n` frames: uint8, shape exactly [n, H, W], every class id < the
 * card's class count. Returns its data. Load time only (warm-up): never on the per-batch path.
 */
export function checkOutput(value: OnnxValue | undefined, n: number, card: ModelCard, modelPath: string): Uint8Array {
  const want = [n, card.input.height, card.input.width];
  const fail = (got: string): never => {
    const msg = `model ${modelPath} produced output '${OUTPUT_NAME}' ${got}; expected uint8 ${fmtShape(want)}`;
    throw new SegdError('SEGD_MODEL_INVALID', msg, [msg]);
  };
  if (value === undefined) return fail('missing');
  const dims = value.dims;
  if (value.type !== 'uint8' || !(value.data instanceof Uint8Array)) return fail(`of dtype ${value.type}`);
  if (dims.length !== 3 || dims.some((d, i) => d !== want[i])) return fail(`of shape ${fmtShape(dims)}`);
  const k = card.classes.length;
  const top = maxByte(value.data);
  if (top >= k) {
    const msg = `model ${modelPath} produced class id ${top} in its warm-up mask, but its card lists ${k} classes (ids 0..${k - 1}): the card does not describe this model's output`;
    throw new SegdError('SEGD_MODEL_INVALID', msg, [msg]);
  }
  return value.data;
}
