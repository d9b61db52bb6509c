/**
 * The one shape every provider module fills: which requests it meters, what
 * it adds to a request, and how it reads usage from a JSON body or a stream.
 */
import type { EventStreamMessage } from "../streams/event-stream.ts";
import type { SkimKeys } from "../streams/json-scan.ts";
import type { Usage } from "../usage.ts";

/** What a provider response told us, before it becomes a usage event. */
export interface Reading {
  /** The response id (`chatcmpl-…`, `msg_…`, `resp_…`, `gen-…`). */
  id?: string | undefined;
  /** The model the response names. */
  model?: string | undefined;
  /** Final usage, when the provider reported it. */
  usage?: Usage | undefined;
  /** Counts reported before the end (Anthropic's `message_start`), when final usage is missing. */
  partial?: Partial<Usage> | undefined;
  /** Cost the provider reported (OpenRouter). */
  costUsd?: number | undefined;
  /** Weighted characters of generated content seen, for estimates (see `stringValueWeight`). */
  outputWeight: number;
}

/** Reads one SSE response, event by event. */
export interface StreamReader {
  /**
   * Sees the data of one event. `truncatedHead` is set when the event was too
   * large to keep whole: `data` then holds only its last characters, and
   * `dataLength` is its true length. Returns `true` to remove the event from
   * what the app reads.
   */
  event(data: string, dataLength: number, truncatedHead: string | undefined): boolean;
  /** True once the provider's terminal event arrived (`[DONE]`, `message_stop`, `response.completed` …). */
  readonly done: boolean;
  /** What the stream reported so far. */
  reading(): Reading;
}

/** Reads the decoded messages of a binary `application/vnd.amazon.eventstream` response (Bedrock). */
export interface MessageReader {
  /** Sees one decoded message. */
  message(message: EventStreamMessage): void;
  /** True once the terminal event arrived (`metadata`, or the Anthropic `message_stop`). */
  readonly done: boolean;
  /** What the stream reported so far. */
  reading(): Reading;
}

/** What the metering fetch learnt from the request. */
export interface RequestFacts {
  /** The endpoint name, e.g. `chat.completions`. */
  endpoint: string;
  /** The parsed JSON body. */
  body: Record<string, unknown>;
  /** Whether the request asked for a stream. */
  stream: boolean;
  /** True when the meter added `stream_options.include_usage` and must hide the usage-only chunk. */
  injectedUsage: boolean;
  /**
   * The request URL's pathname, query excluded (optional: Gemini and Bedrock
   * name the model, and whether the call streams, in the path).
   */
  pathname?: string | undefined;
  /**
   * The requested model when the request names it outside the body (Gemini,
   * Bedrock: the URL-decoded model of the path), from the provider's `describe`.
   */
  requestedModel?: string | undefined;
}

/** A request body a provider rewrote before it is sent. */
export interface PreparedBody {
  /** The new JSON body text. */
  text: string;
  /** True when the rewrite asked for usage the app did not (`stream_options.include_usage`): the meter hides it. */
  injectedUsage: boolean;
}

/**
 * How metering reads a JSON response body: `skim` takes `id` and `model` from
 * its start and the `usage` object from its end without parsing it all (the
 * keys `Provider.skimKeys` names); `whole` parses it (needed when usage
 * depends on more than the `usage` object, as the web searches in a
 * Responses `output`). A body too large to keep (over 4 MiB) is skimmed
 * either way.
 */
export type JsonRead = "skim" | "whole";

/** A provider module: one file, and one line in the registry (`providers/index.ts`). */
/** What a request's path says of it (see `Provider.describe`). */
export interface RequestDescription {
  /** The URL-decoded model the path names. */
  requestedModel?: string | undefined;
  /** Whether the path asks for a stream. */
  stream?: boolean | undefined;
}

/** A provider module. */
export interface Provider {
  /** Lowercase provider id sent in events. */
  readonly id: string;
  /** The endpoint name of a metered `POST` path, or undefined when the path is not metered. */
  endpoint(pathname: string): string | undefined;
  /**
   * Adjusts a JSON request before it is sent (OpenAI chat streams get
   * `stream_options.include_usage`). Returns the new body, or undefined to
   * send it as it is. Must not change `facts`.
   */
  prepare?(facts: Readonly<RequestFacts>, text: string): PreparedBody | undefined;
  /**
   * What a request says outside its body: the model and whether it streams,
   * when the path names them (Gemini, Bedrock), or the model when only the
   * path names it (Azure's deployments). Default: the body alone.
   */
  describe?(pathname: string, body: Record<string, unknown>): RequestDescription | undefined;
  /** The provider's request id from the response headers. */
  requestId(headers: Headers): string | undefined;
  /**
   * True when the response id is also the provider's request id, taken when
   * the headers carry none (OpenRouter's `gen-…` generation id). Default false.
   */
  readonly requestIdFromResponseId?: boolean;
  /**
   * The body of an error answer in the provider's own envelope, which its SDK
   * turns into its own error class (the meter's synthetic 402 of a blocked call).
   */
  errorBody(type: string, message: string): unknown;
  /** How a JSON body of `endpoint` is read. Default `skim`. */
  jsonRead?(endpoint: string): JsonRead;
  /**
   * The top-level keys a JSON body of `endpoint` is skimmed for, when they are
   * not `id`, `model` and `usage` (Gemini's `responseId`, `modelVersion` and
   * `usageMetadata`). Default: those three.
   */
  skimKeys?(endpoint: string): SkimKeys | undefined;
  /** Reads a whole JSON response body. */
  readJson(endpoint: string, json: unknown): Reading;
  /** Starts reading an SSE response. */
  readStream(facts: RequestFacts): StreamReader;
  /**
   * Starts reading a binary `application/vnd.amazon.eventstream` response
   * (Bedrock). Absent for providers that never send one.
   */
  readMessages?(facts: RequestFacts): MessageReader;
}
