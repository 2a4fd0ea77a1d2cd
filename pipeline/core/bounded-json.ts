/**
 * JSON from untrusted peers (WebSocket control messages, API bodies, model cards): the nesting
 * depth is checked by a flat scan BEFORE JSON.parse, so no later step that walks the value
 * recursively (JSON.stringify of an error excerpt, schema validation, structuredClone) can run
 * out of stack on a message like `[[[[…]]]]`. The scan is linear, allocates nothing and
 * never recurses; JSON.parse itself then only sees text whose depth is known to be small.
 */

/** Deeper than anything segd accepts (a zone polygon is 4 levels below a stream); far below stack limits. */
export const MAX_JSON_DEPTH = 32;

export type BoundedJsonResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly problem: string };

/**
 * Depth of the deepest array/object in `text`, stopping as soon as it exceeds `maxDepth`
 * (returns maxDepth + 1 then). Brackets inside strings do not count; the text need not be valid
 * JSON (JSON.parse judges that afterwards).
 */
export function jsonDepthExceeds(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) depth--;
  }
  return false;
}

/**
 * JSON.parse with a depth bound. The problem text says what was wrong, never quotes the input
 * (it may be a file's contents: a secret the caller was not meant to see).
 */
export function parseBoundedJson(text: string, maxDepth: number = MAX_JSON_DEPTH): BoundedJsonResult {
  if (jsonDepthExceeds(text, maxDepth)) return { ok: false, problem: `nested deeper than ${maxDepth} levels` };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, problem: jsonSyntaxProblem(err) };
  }
}

/**
 * The position of a JSON.parse error without the excerpt V8 puts in its message
 * (`Unexpected token 'r', "root:x:0:0"... is not valid JSON` echoes the input).
 */
function jsonSyntaxProblem(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const at = /position (\d+)/.exec(message);
  if (/Unexpected end of JSON input/.test(message)) return 'not valid JSON (it ends early)';
  return at ? `not valid JSON (syntax error at character ${at[1]})` : 'not valid JSON';
}
