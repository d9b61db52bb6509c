/**
 * The whole product in a real browser: `npm run dev` (examples/dev.ts: the
 * chat app and the local Stoa server under wrangler, on free ports, with a
 * fresh state folder) driven in Debian's chromium through playwright-core.
 *
 * Sign in → ask → blocked → the local checkout → cancel → back to the chat
 * with the question kept → send it again → checkout → pay → back to the app →
 * the payment confirmed →
 * the answer streams → the usage page shows the exact tokens the provider
 * reported, the events and the balance after the debit. Then a second
 * question, now chargeable, streams in the chat page itself.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fakeAnswer, fakeUsage } from "../../examples/chat/fake-provider.ts";
import { freePort } from "../support/ports.ts";

/** Where to save screenshots of each page at 1280 px, when set (to look at them). */
const SCREENSHOTS = process.env.E2E_SCREENSHOTS;

async function shot(page: Page, name: string): Promise<void> {
  if (SCREENSHOTS !== undefined) await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Debian's chromium (`apt-get install chromium`); CHROMIUM_PATH to use another. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** Flags that keep chromium off the network it cannot reach here. */
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** The local server's price of gpt-4o-mini, USD per million tokens (examples/stoa-server/prices.ts). */
const INPUT_PER_MTOK = 0.15;
const OUTPUT_PER_MTOK = 0.6;

let dev: ChildProcess | undefined;
let output = "";
let profile: string;
let state: string;
let browser: BrowserContext;
let chatUrl: string;
let stoaUrl: string;

beforeAll(async () => {
  const [chatPort, stoaPort] = [await freePort(), await freePort()];
  state = await mkdtemp(join(tmpdir(), "stoa-e2e-state-"));
  profile = await mkdtemp(join(tmpdir(), "stoa-e2e-chromium-"));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CHAT_PORT: String(chatPort),
    STOA_SERVER_PORT: String(stoaPort),
    STOA_STATE_DIR: state,
  };
  for (const name of ["OPENAI_API_KEY", "ANTHROPIC_API_KEY", "FAKE_PROVIDER", "OPENAI_MODEL"]) delete env[name];
  dev = spawn(process.execPath, ["examples/dev.ts"], { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  dev.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  dev.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  // dev.ts prints the URLs once both workers answer
  const ready = /Chat app\s+(\S+)\/\n\s+Stoa usage pages\s+(\S+)\//;
  const until = Date.now() + 90_000;
  while (!ready.test(output)) {
    if (dev.exitCode !== null || Date.now() > until) throw new Error(`npm run dev did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const urls = ready.exec(output) as RegExpExecArray;
  chatUrl = urls[1] as string;
  stoaUrl = urls[2] as string;
  expect(chatUrl).toBe(`http://127.0.0.1:${chatPort}`);
  expect(stoaUrl).toBe(`http://127.0.0.1:${stoaPort}`);
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
  });
});

afterAll(async () => {
  await browser?.close();
  if (dev?.pid !== undefined && dev.exitCode === null) {
    const exited = new Promise((resolve) => dev?.once("exit", resolve));
    process.kill(-dev.pid, "SIGTERM");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    if (dev.exitCode === null) {
      try {
        process.kill(-dev.pid, "SIGKILL");
      } catch {} // already gone
    }
  }
  await rm(profile, { recursive: true, force: true });
  await rm(state, { recursive: true, force: true });
});

/** Loads the usage page of `userId` until it shows `events` events (delivery runs after each answer). */
async function usagePage(page: Page, userId: string, events: number): Promise<void> {
  await expect
    .poll(
      async () => {
        await page.goto(`${stoaUrl}/users/${userId}`);
        return numberAt(page, "total-events");
      },
      { timeout: 30_000, interval: 250 },
    )
    .toBe(events);
}

/** The `data-value` of a test id on the page, as a number. */
async function numberAt(page: Page, testId: string): Promise<number> {
  return Number(await page.getByTestId(testId).first().getAttribute("data-value"));
}

describe("the chat app with the local Stoa server, in chromium", () => {
  it("blocks, checks out, pays, resumes with a streamed answer, and shows the exact usage", async () => {
    const page = await browser.newPage();
    await page.setViewportSize({ width: 1280, height: 800 });
    // no request of the app's pages fails (no favicon 404)
    const failed: string[] = [];
    page.on("response", (response) => {
      // 402: the blocked chats, answered as designed
      if (response.status() >= 400 && response.status() !== 402 && response.url().startsWith(chatUrl)) {
        failed.push(response.url());
      }
    });
    await page.goto(`${chatUrl}/`);
    await shot(page, "1-sign-in");
    await page.getByTestId("login-name").fill("Ada Lovelace");
    await page.getByTestId("login-submit").click();
    await expect.poll(() => page.getByTestId("user").textContent()).toBe("ada-lovelace");
    expect(await page.getByTestId("balance").textContent()).toBe("$0.00");

    // a new member has never paid: the question is blocked and the page goes to checkout
    const question = "How does Stoa meter a streamed answer?";
    const messages = [{ role: "user", content: question }];
    await page.getByTestId("message").fill(question);
    await page.getByTestId("send").click();
    await page.locator('[data-testid="turn"][data-state="blocked"]').waitFor();
    await page.waitForURL(`${stoaUrl}/checkout/**`);
    expect(await page.getByTestId("payer").textContent()).toContain("ada-lovelace");
    await shot(page, "2-checkout");

    // cancel: back to the chat, a clear note, the question kept in the box and in the log
    await page.getByTestId("cancel").click();
    await page.waitForURL(`${chatUrl}/?payment=cancelled`);
    expect(await page.getByTestId("flash").textContent()).toContain("Payment not completed");
    expect(await page.getByTestId("message").inputValue()).toBe(question);
    expect(await page.locator('[data-testid="turn"][data-state="blocked"]').count()).toBe(1);
    await shot(page, "3-cancelled");

    // send it again: blocked again, to checkout
    await page.getByTestId("send").click();
    await page.waitForURL(`${stoaUrl}/checkout/**`);

    // pay $5 (the first amount): the browser returns to the app, which answers the question it kept
    await page.getByTestId("amount-5").check();
    await page.getByTestId("pay").click();
    await page.waitForURL(`${chatUrl}/stoa/return?**`, { waitUntil: "commit" });
    const answer = fakeAnswer(messages);
    // streamed: part of the answer is on screen before the rest has arrived
    await expect
      .poll(
        async () => {
          const text =
            (await page
              .getByTestId("answer")
              .textContent()
              .catch(() => "")) ?? "";
          return text.length > 0 && text.length < answer.length;
        },
        { timeout: 10_000, interval: 25 },
      )
      .toBe(true);
    await page.getByTestId("usage-output").waitFor();
    // the header stays, and the payment is confirmed
    expect(await page.getByTestId("user").textContent()).toBe("ada-lovelace");
    expect(await page.getByTestId("flash").textContent()).toBe(
      "Payment received: you paid $5.00. Thank you! Here is your answer.",
    );
    await shot(page, "4-paid-answer");
    expect(await page.getByTestId("question").textContent()).toBe(question);
    expect((await page.getByTestId("answer").textContent())?.trim()).toBe(answer);
    const usage = fakeUsage(messages);
    expect(Number(await page.getByTestId("usage-input").textContent())).toBe(usage.inputTokens);
    expect(Number(await page.getByTestId("usage-output").textContent())).toBe(usage.outputTokens);

    // reloading the used return link: back to the chat, which shows the answer given
    const returnUrl = page.url();
    await page.goto(returnUrl);
    await page.waitForURL(`${chatUrl}/?payment=used`);
    expect((await page.getByTestId("answer").textContent())?.trim()).toBe(answer);
    expect(await page.getByTestId("turn").count()).toBe(1);

    // the usage page: one event, the exact tokens, $5 less the local price of them
    await usagePage(page, "ada-lovelace", 1);
    await shot(page, "5-usage");
    expect(await numberAt(page, "total-input")).toBe(usage.inputTokens);
    expect(await numberAt(page, "total-output")).toBe(usage.outputTokens);
    const cost = (usage.inputTokens * INPUT_PER_MTOK + usage.outputTokens * OUTPUT_PER_MTOK) / 1e6;
    expect(await numberAt(page, "total-cost")).toBeCloseTo(cost, 12);
    expect(await numberAt(page, "balance")).toBeCloseTo(5 - cost, 12);
    expect(await page.getByTestId("chargeable").getAttribute("data-value")).toBe("true");
    expect(await page.getByTestId("model-row").count()).toBe(1);
    expect(await page.getByTestId("model-row").getAttribute("data-model")).toBe("gpt-4o-mini");
    // the chart: one bar per minute so far, their costs summing to the total
    const bars = await page
      .locator("svg rect.bar")
      .evaluateAll((rects) => rects.map((r) => Number(r.getAttribute("data-value"))));
    expect(bars.length).toBeGreaterThanOrEqual(30);
    expect(bars.reduce((a, b) => a + b, 0)).toBeCloseTo(cost, 12);

    // now chargeable: the next question streams in the chat page itself, and is billed once more
    const second = "And what does the usage page show?";
    const secondUsage = fakeUsage([{ role: "user", content: second }]);
    await page.goto(`${chatUrl}/`);
    // the conversation is kept: the first answer is on the page
    expect(await page.getByTestId("turn").count()).toBe(1);
    const before = await page.getByTestId("balance").getAttribute("data-value");
    await page.getByTestId("message").fill(second);
    await page.getByTestId("send").click();
    const turn = page.locator('[data-testid="turn"][data-state="done"]').nth(1);
    await turn.waitFor({ timeout: 30_000 });
    expect((await turn.getByTestId("answer").textContent())?.trim()).toBe(
      fakeAnswer([{ role: "user", content: second }]),
    );
    expect(Number(await turn.getByTestId("usage-input").textContent())).toBe(secondUsage.inputTokens);
    expect(Number(await turn.getByTestId("usage-output").textContent())).toBe(secondUsage.outputTokens);
    // the header's balance is refreshed from Stoa after the answer
    await expect
      .poll(async () => {
        const response = await page.request.get(`${chatUrl}/balance`);
        return String(((await response.json()) as { availableUsd: number }).availableUsd);
      })
      .toBe(await page.getByTestId("balance").getAttribute("data-value"));
    expect(before).not.toBeNull();
    await shot(page, "6-chat");
    expect(failed).toEqual([]);

    await page.getByTestId("usage-link").click();
    await page.waitForURL(`${stoaUrl}/users/ada-lovelace`);
    await usagePage(page, "ada-lovelace", 2);
    expect(await numberAt(page, "total-input")).toBe(usage.inputTokens + secondUsage.inputTokens);
    expect(await numberAt(page, "total-output")).toBe(usage.outputTokens + secondUsage.outputTokens);
    expect(await page.getByTestId("event-row").count()).toBe(2);
  });
});
