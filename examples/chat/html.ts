/**
 * The chat app's HTML frame: escaping, money as people read it, and what
 * every page shares: the document start and end (inline CSS and an empty
 * inline favicon, no external assets) and the header with the user and
 * their available balance.
 */

/** `text` safe inside HTML text and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** USD in dollars and cents, rounded to the nearest cent: `$10.00`, `$4.96`, `-$0.01`. */
export function formatUsd(usd: number): string {
  const cents = Math.round(usd * 100);
  const sign = cents < 0 ? "-" : "";
  const abs = Math.abs(cents);
  const dollars = String(Math.floor(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${sign}$${dollars}.${String(abs % 100).padStart(2, "0")}`;
}

const CSS = `
:root { color-scheme: light dark; --bg: #f6f7f9; --card: #fff; --fg: #1d2330; --muted: #5b6475; --line: #dde1e8;
  --accent: #3461d1; --accent-fg: #fff; --ok: #1d7a46; --ok-bg: #e6f4ec; --warn: #8a5a00; --warn-bg: #fdf3e1; --bad: #b42318;
  font-family: system-ui, -apple-system, "Segoe UI", sans-serif; line-height: 1.5; }
@media (prefers-color-scheme: dark) { :root { --bg: #14171d; --card: #1d2129; --fg: #e6e9ef; --muted: #a3abba; --line: #2e3440;
  --accent: #6d8ff0; --accent-fg: #0b0e14; --ok: #7fd1a2; --ok-bg: #16301f; --warn: #f0c36d; --warn-bg: #33290f; --bad: #ff8a80; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); }
.bar { background: var(--card); border-bottom: 1px solid var(--line); }
.bar .inner { max-width: 46rem; margin: 0 auto; padding: .6rem 1rem; display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; }
.brand { font-weight: 700; font-size: 1.1rem; color: inherit; text-decoration: none; margin-right: auto; }
.who { color: var(--muted); }
.balance { font-variant-numeric: tabular-nums; font-weight: 600; padding: .15rem .6rem; border-radius: 999px; background: var(--ok-bg); color: var(--ok); }
.bar form { margin: 0; }
main { max-width: 46rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.4rem; margin: .5rem 0 1rem; }
a { color: var(--accent); }
button, .button { font: inherit; cursor: pointer; border: 1px solid var(--accent); background: var(--accent); color: var(--accent-fg);
  padding: .45rem 1rem; border-radius: 8px; text-decoration: none; display: inline-block; }
button.quiet { background: transparent; color: var(--accent); padding: .25rem .7rem; }
button:disabled { opacity: .5; cursor: default; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 1rem 1.25rem; }
.note { color: var(--muted); font-size: .9rem; }
.flash { border-radius: 10px; padding: .7rem 1rem; margin: 0 0 1rem; }
.flash.ok { background: var(--ok-bg); color: var(--ok); }
.flash.warn { background: var(--warn-bg); color: var(--warn); }
#log { display: flex; flex-direction: column; gap: .75rem; }
.turn { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: .75rem 1rem; }
.question { font-weight: 600; white-space: pre-wrap; margin: 0 0 .4rem; }
.answer { white-space: pre-wrap; min-height: 1.5em; }
.turn[data-state="blocked"] .answer:empty { display: none; }
.turn[data-state="streaming"] .answer::after { content: "▍"; animation: blink 1s steps(2) infinite; }
@keyframes blink { 50% { opacity: 0; } }
.usage { color: var(--muted); font-size: .85rem; margin: .4rem 0 0; font-variant-numeric: tabular-nums; }
.error { color: var(--bad); }
.blocked { color: var(--warn); margin: .2rem 0 0; }
form.ask { display: flex; gap: .5rem; margin-top: 1rem; align-items: flex-end; }
form.ask textarea { flex: 1; font: inherit; padding: .5rem .7rem; border: 1px solid var(--line); border-radius: 10px; background: var(--card); color: inherit; resize: vertical; }
.login { max-width: 26rem; margin: 3rem auto; }
.login label { display: block; margin: 1rem 0 .75rem; }
.login input { display: block; width: 100%; margin-top: .3rem; font: inherit; padding: .5rem .7rem; border: 1px solid var(--line); border-radius: 8px; background: var(--bg); color: inherit; }
.empty { color: var(--muted); text-align: center; padding: 1.5rem 0; }
`;

/** The document up to and including `<body>`. */
export function pageStart(title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
`;
}

/** The end of the document. */
export function pageEnd(): string {
  return "\n</body>\n</html>\n";
}

/**
 * The header of a signed-in page: the app's name (a link home), the user
 * (`data-testid="user"`), the available balance (`data-testid="balance"`,
 * the exact USD in `data-value` and `title`; `—` when Stoa did not say), a
 * link to the usage page and sign-out.
 */
export function appHeader(userId: string, availableUsd: number | undefined): string {
  const balance =
    availableUsd === undefined
      ? `<span class="balance" data-testid="balance" title="Stoa did not answer">—</span>`
      : `<span class="balance" data-testid="balance" data-value="${availableUsd}" title="Available: $${availableUsd} (balance less what running calls hold)">${escapeHtml(formatUsd(availableUsd))}</span>`;
  return `<header class="bar"><div class="inner">
<a class="brand" href="/">Stoa chat</a>
<span class="who">Signed in as <b data-testid="user">${escapeHtml(userId)}</b></span>
${balance}
<a href="/usage" data-testid="usage-link">Usage</a>
<form method="post" action="/logout"><button type="submit" class="quiet" data-testid="logout">Sign out</button></form>
</div></header>
`;
}

/** A script that reloads the header's balance from `GET /balance` (call `refreshBalance()`). */
export function balanceScript(): string {
  return `
async function refreshBalance() {
  const node = document.querySelector("[data-testid=balance]");
  if (!node) return;
  try {
    const response = await fetch("/balance", { headers: { accept: "application/json" } });
    if (!response.ok) return;
    const { availableUsd } = await response.json();
    if (typeof availableUsd !== "number") return;
    const cents = Math.round(availableUsd * 100), abs = Math.abs(cents);
    node.textContent = (cents < 0 ? "-" : "") + "$" + Math.floor(abs / 100).toLocaleString("en-US") + "." + String(abs % 100).padStart(2, "0");
    node.dataset.value = String(availableUsd);
    node.title = "Available: $" + availableUsd + " (balance less what running calls hold)";
  } catch {}
}
`;
}
