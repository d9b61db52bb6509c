/**
 * Small scanners over JSON text, for the hot path of a metered stream: they
 * find what metering needs without parsing every event. Searches run from
 * the end (`lastIndexOf`), where providers put what metering reads, and
 * multi-character forward searches are avoided: in V8 they cost several
 * times a backward one on short strings.
 *
 * They rely on one property of JSON text: a `"` inside a string value is
 * escaped, so `"key":` is always a real key.
 */

/**
 * Where the object value of the last `"key":` starts (the index of its `{`),
 * or -1 when the last one is null or absent. A string value (a label in
 * `metadata`, say) is passed over for the occurrence before it. `key` is
 * given with its quotes: `'"usage"'`.
 */
export function lastObjectValue(text: string, key: string): number {
  let at = text.lastIndexOf(key);
  while (at !== -1) {
    const value = valueStart(text, at + key.length);
    const c = value === -1 ? 0 : text.charCodeAt(value);
    if (c === 123) return value;
    if (c !== 34 || at === 0) return -1;
    at = text.lastIndexOf(key, at - 1);
  }
  return -1;
}

/** Index of the value after `"key"` ending at `at`: skips blanks and the colon; -1 when there is no colon. */
function valueStart(text: string, at: number): number {
  let i = at;
  while (isBlank(text.charCodeAt(i))) i++;
  if (text.charCodeAt(i) !== 58) return -1;
  i++;
  while (isBlank(text.charCodeAt(i))) i++;
  return i;
}

function isBlank(code: number): boolean {
  return code === 32 || code === 10 || code === 13 || code === 9;
}

/**
 * The balanced JSON object that starts at `start` (`text[start]` is `{`),
 * strings and escapes respected, or undefined when it does not close.
 */
export function sliceObject(text: string, start: number): string | undefined {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
    } else if (c === 34) {
      inString = true;
    } else if (c === 123 || c === 91) {
      depth++;
    } else if (c === 125 || c === 93) {
      depth--;
      if (depth === 0) return text.slice(start, i + 1);
    }
  }
  return undefined;
}

/** Parses the last `"key":{…}` object of `text`, or returns undefined. */
export function lastObject(text: string, key: string): unknown {
  const at = lastObjectValue(text, key);
  if (at === -1) return undefined;
  const slice = sliceObject(text, at);
  return slice === undefined ? undefined : tryParse(slice);
}

/** Keys whose string values inside a `delta` are generated content. */
const CONTENT_KEYS = new Set([
  "content",
  "text",
  "arguments",
  "partial_json",
  "thinking",
  "reasoning",
  "reasoning_content",
  "refusal",
]);

/**
 * Weight of the generated content in the `"delta"` values of a stream event,
 * for estimating tokens (see `textWeight`): a string delta (Responses) counts
 * whole; in an object delta (chat completions, Anthropic) the string values
 * of content keys count, nested ones (tool-call arguments) included. Each
 * choice of a multi-choice chunk counts.
 */
export function deltaWeight(text: string): number {
  let weight = 0;
  let at = text.lastIndexOf('"delta"');
  while (at !== -1) {
    const value = valueStart(text, at + 7);
    if (value !== -1) {
      const c = text.charCodeAt(value);
      if (c === 34) weight += stringWeight(text, value);
      else if (c === 123) weight += objectContentWeight(text, value);
    }
    // the first choice is the last "delta" to look for: `{"index":0,"delta"`
    if (at < 10 || (text.charCodeAt(at - 2) === 48 && text.charCodeAt(at - 3) === 58)) break;
    at = text.lastIndexOf('"delta"', at - 1);
  }
  return weight;
}

/** Weight of the content-key strings of the object at `start`, nested objects and arrays included. */
function objectContentWeight(text: string, start: number): number {
  // the common chat delta, `{"content":"…"}`, without the general walk
  if (text.startsWith('{"content":"', start)) {
    const weight = stringWeight(text, start + 11);
    if (text.charCodeAt(stringEnd + 1) === 125) return weight;
  }
  let weight = 0;
  const inObject: boolean[] = []; // the open containers: object (true) or array (false)
  let key = "";
  let expectKey = false;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      const w = stringWeight(text, i);
      if (expectKey) key = text.slice(i + 1, stringEnd);
      else if (inObject[inObject.length - 1] === true && CONTENT_KEYS.has(key)) weight += w;
      expectKey = false;
      i = stringEnd;
    } else if (c === 123 || c === 91) {
      inObject.push(c === 123);
      expectKey = c === 123;
    } else if (c === 44) {
      expectKey = inObject[inObject.length - 1] === true;
    } else if (c === 125 || c === 93) {
      inObject.pop();
      if (inObject.length === 0) break;
    }
  }
  return weight;
}

/** Index of the closing quote of the string `stringWeight` last measured. */
let stringEnd = 0;

/**
 * Weight of the JSON string starting at `start` (its opening quote); its
 * closing quote's index goes to `stringEnd`. An ASCII character weighs 1, any
 * other UTF-16 unit 3; an escape weighs as the character it stands for.
 */
function stringWeight(text: string, start: number): number {
  let weight = 0;
  let i = start + 1;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) break;
    if (c === 92) {
      if (text.charCodeAt(i + 1) === 117) {
        weight += Number.parseInt(text.slice(i + 2, i + 6), 16) < 128 ? 1 : 3;
        i += 5;
      } else {
        weight += 1;
        i += 1;
      }
    } else {
      weight += c < 128 ? 1 : 3;
    }
  }
  stringEnd = i;
  return weight;
}

/** Parses JSON, or returns undefined. */
export function tryParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The top-level keys a JSON response body is skimmed for (see `skim`): the
 * string values of `id` and `model`, and the object value of `usage`. Key
 * names, without their quotes.
 */
export interface SkimKeys {
  readonly id: string;
  readonly model: string;
  readonly usage: string;
}

/** The keys of the OpenAI and Anthropic shape, and of every host that copies it. */
const USAGE_KEYS: SkimKeys = { id: "id", model: "model", usage: "usage" };

/**
 * Skims a JSON response body for what metering needs without parsing it:
 * the top-level `usage` object (`keys.usage`) from its `end` (a nested one,
 * as Groq's `x_groq.usage`, is not the body's usage), and the `id` and
 * `model` strings (`keys.id`, `keys.model`) from its `start`, where providers
 * put them, else the top-level ones of its `end` (embeddings name the model
 * last; Gemini its `responseId` and `modelVersion`). `start` and `end` are the
 * first and last characters of the body (the same text when it was kept
 * whole); blanks around the body, its keys and its values are allowed.
 * Returns an object of those three keys, which a provider reads as it reads
 * the whole body; undefined when the body is not an object or has no
 * top-level usage object in `end`.
 */
export function skim(start: string, end: string, keys: SkimKeys = USAGE_KEYS): Record<string, unknown> | undefined {
  if (start.charCodeAt(firstNonBlank(start)) !== 123 || end.charCodeAt(lastNonBlank(end)) !== 125) return undefined;
  const at = topLevelObjectValue(end, keys.usage);
  const slice = at === -1 ? undefined : sliceObject(end, at);
  const usage = slice === undefined ? undefined : tryParse(slice);
  if (usage === undefined) return undefined;
  return {
    [keys.id]: edgeString(start, end, keys.id),
    [keys.model]: edgeString(start, end, keys.model),
    [keys.usage]: usage,
  };
}

/** The index of the first character of `text` that is not a JSON blank. */
function firstNonBlank(text: string): number {
  let i = 0;
  while (isBlank(text.charCodeAt(i))) i++;
  return i;
}

/** The index of the last character of `text` that is not a JSON blank (-1 when there is none). */
function lastNonBlank(text: string): number {
  let i = text.length - 1;
  while (i >= 0 && isBlank(text.charCodeAt(i))) i--;
  return i;
}

/**
 * The string value of `key` (unquoted) in a skimmed body: the first one in
 * `start`, else the last top-level one in `end` (sought only when `end` is
 * not the same text as `start`: a body kept whole has none then).
 */
function edgeString(start: string, end: string, key: string): string | undefined {
  const quoted = `"${key}"`;
  const first = firstString(start, quoted);
  if (first !== undefined || end === start) return first;
  const at = topLevelValue(end, key);
  return at === -1 ? undefined : stringAt(end, at);
}

/**
 * Where the object value of the last top-level `"key":` of `text` starts (the
 * index of its `{`), or -1. `text` is the end of a JSON object (its last
 * character closes it, blanks after it aside), so depth is counted backwards
 * from that end (see `topLevelValue`).
 */
export function topLevelObjectValue(text: string, key: string): number {
  const at = topLevelValue(text, key);
  return text.charCodeAt(at) === 123 ? at : -1;
}

/**
 * Where the value of the last top-level `"key":` of `text` starts, or -1.
 * `text` is the end of a JSON object (its last character closes it, blanks
 * after it aside), so depth is counted backwards from that end: a scan over
 * what follows the key, strings skipped (a `"` preceded by an odd run of
 * backslashes is escaped). An object value must be one that closed back to
 * the top level.
 */
function topLevelValue(text: string, key: string): number {
  let depth = 0;
  let valueAt = -1; // the `{` of the last object closed back to depth 1
  for (let i = text.length - 1; i >= 0; i--) {
    const c = text.charCodeAt(i);
    if (c === 125 || c === 93) {
      depth++;
    } else if (c === 123 || c === 91) {
      depth--;
      if (depth === 1 && c === 123) valueAt = i;
      if (depth <= 0) return -1;
    } else if (c === 34) {
      const close = i;
      i--;
      while (i >= 0 && !(text.charCodeAt(i) === 34 && !escaped(text, i))) i--;
      if (i < 0) return -1;
      if (depth === 1 && close - i - 1 === key.length && text.startsWith(key, i + 1)) {
        const value = valueStart(text, close + 1);
        if (value !== -1 && (text.charCodeAt(value) !== 123 || value === valueAt)) return value;
      }
    }
  }
  return -1;
}

/** True when the `"` at `at` is escaped: an odd run of backslashes before it. */
function escaped(text: string, at: number): boolean {
  let n = 0;
  while (at - n - 1 >= 0 && text.charCodeAt(at - n - 1) === 92) n++;
  return n % 2 === 1;
}

/**
 * The first string value of `key` (quoted: `'"id"'`) in `text`, blanks
 * around its colon allowed (an escape-free prefix of it), or undefined. An
 * occurrence that is not followed by a colon and a string (a value such as
 * `"role":"model"`, a number id) is passed over.
 */
function firstString(text: string, key: string): string | undefined {
  for (let at = text.indexOf(key); at !== -1; at = text.indexOf(key, at + key.length)) {
    const value = valueStart(text, at + key.length);
    if (value !== -1 && text.charCodeAt(value) === 34) return stringAt(text, value);
  }
  return undefined;
}

/** The string whose opening quote is at `at`, up to the next quote; undefined when it is not a string or does not close. */
function stringAt(text: string, at: number): string | undefined {
  if (text.charCodeAt(at) !== 34) return undefined;
  const end = text.indexOf('"', at + 1);
  return end === -1 ? undefined : text.slice(at + 1, end);
}
