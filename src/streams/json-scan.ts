/**
 * Small scanners over JSON text, for the hot path of a metered stream: they
 * find what metering needs without parsing every event.
 */

/**
 * Where the object value of the first `"key":` at or after `from` starts
 * (the index of its `{`), or -1. `key` is given with its quotes: `'"usage"'`.
 * Occurrences whose value is not an object (`"usage":null`) are skipped.
 */
export function findObjectValue(text: string, key: string, from = 0): number {
  let at = text.indexOf(key, from);
  while (at !== -1) {
    const value = valueStart(text, at + key.length);
    if (value !== -1 && text.charCodeAt(value) === 123) return value;
    at = text.indexOf(key, at + key.length);
  }
  return -1;
}

/** Where the last object value of `"key":` starts, or -1. */
export function findLastObjectValue(text: string, key: string): number {
  let at = text.lastIndexOf(key);
  while (at !== -1) {
    const value = valueStart(text, at + key.length);
    if (value !== -1 && text.charCodeAt(value) === 123) return value;
    if (at === 0) break;
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

/**
 * Weighted length of every JSON string value of `"key":` in `text`, for
 * estimating tokens: an ASCII character weighs 1, any other UTF-16 unit 3
 * (at 4 per token, that is about one token per CJK character). Escapes
 * count as the character they stand for. `key` is given with its quotes.
 */
export function stringValueWeight(text: string, key: string): number {
  let weight = 0;
  let at = text.indexOf(key);
  while (at !== -1) {
    let i = valueStart(text, at + key.length);
    if (i !== -1 && text.charCodeAt(i) === 34) {
      for (i++; i < text.length; i++) {
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
      at = text.indexOf(key, i);
    } else {
      at = text.indexOf(key, at + key.length);
    }
  }
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
