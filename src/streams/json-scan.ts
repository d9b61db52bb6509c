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
 * Skims a JSON response body for what metering needs without parsing it:
 * `id` and `model` from its `start`, `model` from its `end` when the start has
 * none (embeddings), and the top-level `usage` object from its `end` (a nested
 * one, as Groq's `x_groq.usage`, is not the body's usage). `start` and `end`
 * are the first and last characters of the body (the same text when it was
 * kept whole). Undefined when it is not an object or has no top-level `usage`
 * in `end`.
 */
export function skim(start: string, end: string): Record<string, unknown> | undefined {
  if (start.charCodeAt(0) !== 123 || end.charCodeAt(end.length - 1) !== 125) return undefined;
  const at = topLevelObjectValue(end, "usage");
  const slice = at === -1 ? undefined : sliceObject(end, at);
  const usage = slice === undefined ? undefined : tryParse(slice);
  if (usage === undefined) return undefined;
  return { id: firstString(start, '"id"'), model: firstString(start, '"model"') ?? lastString(end, '"model"'), usage };
}

/**
 * Where the object value of the last top-level `"key":` of `text` starts (the
 * index of its `{`), or -1. `text` is the end of a JSON object (its last
 * character closes it), so depth is counted backwards from that end: a
 * scan over what follows the key, strings skipped (a `"` preceded by an odd
 * run of backslashes is escaped).
 */
export function topLevelObjectValue(text: string, key: string): number {
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
        if (value !== -1 && value === valueAt) return value;
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

/** The first `"key":"…"` string value of `text` (an escape-free prefix of it), or undefined. */
function firstString(text: string, key: string): string | undefined {
  return stringAt(text, text.indexOf(`${key}:"`), key);
}

/** The last `"key":"…"` string value of `text` (an escape-free prefix of it), or undefined. */
function lastString(text: string, key: string): string | undefined {
  return stringAt(text, text.lastIndexOf(`${key}:"`), key);
}

/** The string value of the `"key":"` found at `at`, up to the next quote; undefined when `at` is -1 or it does not close. */
function stringAt(text: string, at: number, key: string): string | undefined {
  if (at === -1) return undefined;
  const start = at + key.length + 2;
  const end = text.indexOf('"', start);
  return end === -1 ? undefined : text.slice(start, end);
}
