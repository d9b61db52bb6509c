/**
 * Reading the model out of a request path, for providers that name it there
 * (Gemini, Bedrock, Azure's deployments) rather than in the body.
 */

/** A URL path segment, percent-decoded; as it is when it is not valid percent-encoding. */
export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
