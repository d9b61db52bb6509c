/**
 * Redaction of secrets (the API key) from every string that leaves the SDK:
 * the fields of an API error, the strings of a 2xx answer (so a `rejected`
 * entry that echoes the key is clean), and a fetch failure's `cause` chain,
 * an `AggregateError`'s `errors` included. One function for all of them.
 */

/** What replaces a secret. */
export const REDACTED = "[redacted]";

/** How deep a cause chain is followed. */
const MAX_DEPTH = 8;

/** Redacts a fixed set of secrets. */
export interface Redactor {
  /** `text` with every occurrence of a secret replaced by `[redacted]`. */
  (text: string): string;
  /**
   * `value` itself when nothing in it (message, stack, `cause`, `errors`)
   * mentions a secret; else a copy of the same shape with every string redacted.
   */
  cause(value: unknown): unknown;
}

/** A redactor for `secrets`; empty strings are ignored. */
export function createRedactor(secrets: readonly string[]): Redactor {
  const kept = secrets.filter((secret) => typeof secret === "string" && secret !== "");
  const redact = ((text: string) => {
    let out = String(text);
    for (const secret of kept) out = out.split(secret).join(REDACTED);
    return out;
  }) as Redactor;
  const mentions = (text: unknown) => kept.some((secret) => String(text).includes(secret));

  function dirty(value: unknown, depth: number): boolean {
    if (depth > MAX_DEPTH || value == null) return false;
    if (typeof value !== "object") return mentions(value);
    const error = value as { message?: unknown; stack?: unknown; cause?: unknown; errors?: unknown };
    return (
      mentions(error.message ?? "") ||
      mentions(error.stack ?? "") ||
      mentions(safeString(value)) ||
      dirty(error.cause, depth + 1) ||
      (Array.isArray(error.errors) && error.errors.some((inner) => dirty(inner, depth + 1)))
    );
  }

  function copy(value: unknown, depth: number): unknown {
    if (depth > MAX_DEPTH || value == null) return undefined;
    if (typeof value !== "object") return typeof value === "string" ? redact(value) : value;
    const source = value as { name?: unknown; message?: unknown; code?: unknown; cause?: unknown; errors?: unknown };
    const message = redact(String(source.message ?? safeString(value)));
    const errors = Array.isArray(source.errors) ? source.errors.map((inner) => copy(inner, depth + 1)) : undefined;
    const cause = source.cause === undefined ? undefined : copy(source.cause, depth + 1);
    const out =
      errors === undefined
        ? new Error(message, cause === undefined ? undefined : { cause })
        : new AggregateError(errors, message, cause === undefined ? undefined : { cause });
    out.name = redact(typeof source.name === "string" ? source.name : "Error");
    out.stack = `${out.name}: ${out.message}`;
    if (typeof source.code === "string") (out as { code?: string }).code = redact(source.code);
    return out;
  }

  redact.cause = (value) => {
    try {
      return dirty(value, 0) ? copy(value, 0) : value;
    } catch {
      return new Error("fetch failed (details withheld: they could not be checked for secrets)");
    }
  };
  return redact;
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return "";
  }
}
