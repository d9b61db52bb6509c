/**
 * The chat app's memory: each user's conversation, server-side in the KV
 * namespace `RESUME` under `chat:<userId>`, so it survives the payment round
 * trip, "Back to the chat" and a reload. At most {@link MAX_TURNS} turns,
 * each answer at most {@link MAX_ANSWER_CHARS} characters, kept 30 days.
 *
 * A demo's store: KV is eventually consistent and a save is read, changed
 * and written, so two answers finishing at the same moment can lose one
 * turn. A real app keeps conversations in a database.
 */
import type { KVNamespaceLike } from "../../src/hono/index.ts";

/** The most turns kept per user; older ones are dropped. */
export const MAX_TURNS = 20;
/** The most characters of an answer kept. */
export const MAX_ANSWER_CHARS = 8000;
const TTL_SECONDS = 30 * 24 * 3600;

/** One exchange. */
export interface Turn {
  /** `done`: answered; `blocked`: waiting for a payment; `error`: the answer stopped. */
  state: "done" | "blocked" | "error";
  question: string;
  answer?: string;
  usage?: { inputTokens: number; outputTokens: number };
  error?: string;
  /** For a `blocked` turn: the user's balance when it was blocked, to say what the payment added. */
  balanceUsd?: number;
}

const keyOf = (userId: string) => `chat:${userId}`;

/** The user's turns, oldest first; empty when there are none or the record is unreadable. */
export async function loadConversation(kv: KVNamespaceLike, userId: string): Promise<Turn[]> {
  const text = await kv.get(keyOf(userId));
  if (text === null) return [];
  try {
    const turns = JSON.parse(text) as unknown;
    return Array.isArray(turns) ? turns.filter(isTurn) : [];
  } catch {
    return [];
  }
}

/**
 * Adds `turn` to the user's conversation. A turn for the same question as a
 * trailing `blocked` one takes its place: the question was answered after
 * payment, or blocked again.
 */
export async function addTurn(kv: KVNamespaceLike, userId: string, turn: Turn): Promise<void> {
  const turns = await loadConversation(kv, userId);
  const last = turns.at(-1);
  if (last?.state === "blocked" && last.question === turn.question) turns.pop();
  const kept: Turn = turn.answer === undefined ? turn : { ...turn, answer: turn.answer.slice(0, MAX_ANSWER_CHARS) };
  turns.push(kept);
  await kv.put(keyOf(userId), JSON.stringify(turns.slice(-MAX_TURNS)), { expirationTtl: TTL_SECONDS });
}

/** The trailing blocked turn, if the conversation ends with one. */
export function pendingTurn(turns: readonly Turn[]): Turn | undefined {
  const last = turns.at(-1);
  return last?.state === "blocked" ? last : undefined;
}

function isTurn(value: unknown): value is Turn {
  const v = value as Partial<Turn> | null;
  return (
    typeof v === "object" &&
    v !== null &&
    typeof v.question === "string" &&
    (v.state === "done" || v.state === "blocked" || v.state === "error")
  );
}
