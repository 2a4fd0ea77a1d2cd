/**
 * The client → server control messages as JSON Schemas (TypeBox), compiled by ajv, and the request
 * types derived from them (docs/protocol.md, "Control messages"). Each field carries `expected`:
 * the protocol's own words for what it accepts, sent back in `error` replies
 * (control-messages.ts turns ajv's errors into those replies).
 */
import { Type, type Static, type TObject } from '@sinclair/typebox';
import { Ajv, type ValidateFunction } from 'ajv';
import { StringEnum } from '../core/schema-builders.js';
import { ENCODINGS } from './protocol.js';

export const MAX_STREAMS_PER_REQUEST = 256;
export const PREVIEW_DEFAULTS = { maxFps: 5, width: 240 } as const;
export const PREVIEW_MAX_FPS = 30;
export const PREVIEW_MIN_WIDTH = 16;
export const PREVIEW_MAX_WIDTH = 4096;

export const REQUEST_TYPES = ['subscribe', 'unsubscribe', 'encoding', 'list_streams', 'model_card', 'preview', 'areas'] as const;
export type ClientRequestType = (typeof REQUEST_TYPES)[number];

/** Every message: a JSON object whose `type` names a request (its other fields are the request's). */
export const EnvelopeSchema = Type.Object({ type: StringEnum(REQUEST_TYPES) });

const StreamIds = Type.Array(Type.String({ expected: 'a stream id (string)' }), {
  minItems: 1,
  maxItems: MAX_STREAMS_PER_REQUEST,
  expected: `an array of 1 to ${MAX_STREAMS_PER_REQUEST} stream ids (strings)`,
});

/** One request: its `type` and its fields, nothing else (an unknown field is usually a typo). */
function Request<K extends ClientRequestType, P extends Parameters<typeof Type.Object>[0]>(type: K, fields: P) {
  return Type.Object({ type: Type.Literal(type), ...fields }, { additionalProperties: false });
}

export const SubscribeSchema = Request('subscribe', { streams: StreamIds });
export const UnsubscribeSchema = Request('unsubscribe', { streams: StreamIds });
export const EncodingSchema = Request('encoding', { encoding: StringEnum(ENCODINGS, { expected: `one of: ${ENCODINGS.join(', ')}` }) });
export const ListStreamsSchema = Request('list_streams', {});
export const ModelCardSchema = Request('model_card', {});
/**
 * `preview`: downscaled JPEGs of the frames (protocol message type 2), rate-limited per client and
 * stream. maxFps and width may be left out (optional in the schema, so docs/protocol/ says so too);
 * ajv's useDefaults fills them in before anyone reads the request.
 */
export const PreviewSchema = Request('preview', {
  enabled: Type.Boolean({ expected: 'true or false' }),
  maxFps: Type.Optional(
    Type.Number({ exclusiveMinimum: 0, maximum: PREVIEW_MAX_FPS, default: PREVIEW_DEFAULTS.maxFps, expected: `a number > 0 and <= ${PREVIEW_MAX_FPS}` }),
  ),
  width: Type.Optional(
    Type.Integer({
      minimum: PREVIEW_MIN_WIDTH,
      maximum: PREVIEW_MAX_WIDTH,
      default: PREVIEW_DEFAULTS.width,
      expected: `an integer ${PREVIEW_MIN_WIDTH} … ${PREVIEW_MAX_WIDTH}`,
    }),
  ),
});

/** `areas`: after each mask, a `class_areas` text message with the frame's class and zone pixel counts. */
export const AreasSchema = Request('areas', { enabled: Type.Boolean({ expected: 'true or false' }) });

export const REQUEST_SCHEMAS = {
  subscribe: SubscribeSchema,
  unsubscribe: UnsubscribeSchema,
  encoding: EncodingSchema,
  list_streams: ListStreamsSchema,
  model_card: ModelCardSchema,
  preview: PreviewSchema,
  areas: AreasSchema,
} as const satisfies Record<ClientRequestType, TObject>;

/** After validation: the defaults are filled in (useDefaults). */
export type PreviewRequest = Readonly<Required<Static<typeof PreviewSchema>>>;
export type ClientRequest = { readonly [K in ClientRequestType]: Readonly<Static<(typeof REQUEST_SCHEMAS)[K]>> }[ClientRequestType];

export interface ControlValidators {
  readonly envelope: ValidateFunction;
  readonly requests: Readonly<Record<ClientRequestType, ValidateFunction>>;
}

let compiled: ControlValidators | null = null;

/** Compiled once: allErrors (control-messages.ts picks the one to report), verbose (errors carry the value), preview defaults applied. */
export function controlValidators(): ControlValidators {
  if (compiled) return compiled;
  const ajv = new Ajv({ allErrors: true, verbose: true, useDefaults: true, strict: true });
  ajv.addKeyword({ keyword: 'expected', schemaType: 'string' }); // an annotation: the reply's `expected`
  const requests = {} as Record<ClientRequestType, ValidateFunction>;
  for (const type of REQUEST_TYPES) requests[type] = ajv.compile(REQUEST_SCHEMAS[type]);
  compiled = { envelope: ajv.compile(EnvelopeSchema), requests };
  return compiled;
}
