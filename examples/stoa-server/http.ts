/**
 * The contract's JSON answers: `{"error":{"type","code","message"}}` for
 * every non-2xx, JSON bodies otherwise.
 */

/** The contract's error types. */
export type ErrorType = "invalid_request" | "authentication" | "not_found" | "rate_limited" | "server_error";

/** A JSON response. */
export function json(status: number, payload: unknown, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(payload), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** A contract error response. */
export function apiError(
  status: number,
  type: ErrorType,
  code: string,
  message: string,
  headers?: Record<string, string>,
): Response {
  return json(status, { error: { type, code, message } }, headers);
}

/** `400 invalid_request`. */
export function invalid(message: string): Response {
  return apiError(400, "invalid_request", "invalid_request", message);
}

/** The contract's error type for a status. */
export function typeOf(status: number): ErrorType {
  if (status === 401) return "authentication";
  if (status === 404) return "not_found";
  if (status === 429) return "rate_limited";
  if (status >= 500) return "server_error";
  return "invalid_request";
}
