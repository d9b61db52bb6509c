/**
 * Azure OpenAI: OpenAI's chat completions, Responses and embeddings under
 * `/openai/deployments/{deployment}/…` (dated `api-version`) or `/openai/v1/…`.
 * Usage is OpenAI's; chat streams get `include_usage` (required: Azure sends
 * no usage without it). A chat stream opens with a content-filter chunk whose
 * `choices`, `id` and `model` are empty: id and model come from later chunks.
 * The request id is `x-request-id`, else APIM's `apim-request-id`.
 */

import { str } from "../util/json.ts";
import { openai, prepareChat } from "./openai.ts";
import type { Provider } from "./types.ts";
import { decodeSegment } from "./url-path.ts";

const DEPLOYMENT = /\/openai\/deployments\/([^/]+)\//;

/** The Azure OpenAI provider. */
export const azure: Provider = {
  id: "azure",
  endpoint: (pathname) => openai.endpoint(pathname),
  describe(pathname, body) {
    // the dated API names the deployment in the path, not in the body
    const deployment = pathname.match(DEPLOYMENT)?.[1];
    return deployment !== undefined && str(body.model) === undefined
      ? { requestedModel: decodeSegment(deployment) }
      : undefined;
  },
  prepare: prepareChat,
  errorBody: openai.errorBody,
  requestId: (headers) => headers.get("x-request-id") ?? headers.get("apim-request-id") ?? undefined,
  // a Responses body is parsed whole, for the web searches in its `output`
  jsonRead: (endpoint) => openai.jsonRead?.(endpoint) ?? "skim",
  readJson: (endpoint, json) => openai.readJson(endpoint, json),
  readStream: (facts) => openai.readStream(facts),
};
