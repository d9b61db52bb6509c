/**
 * The chat app's HTML frame: escaping and the document start and end every
 * page shares (inline CSS, no external assets).
 */

/** `text` safe inside HTML text and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

const CSS = `
:root { color-scheme: light dark; font-family: system-ui, sans-serif; line-height: 1.5; }
body { margin: 0; }
main { max-width: 42rem; margin: 0 auto; padding: 1rem; }
header { display: flex; gap: 1rem; align-items: baseline; flex-wrap: wrap; }
header form { display: inline; }
.turn { border-top: 1px solid #8884; padding: .5rem 0; }
.question { font-weight: 600; white-space: pre-wrap; }
.answer { white-space: pre-wrap; min-height: 1.5em; }
.usage, .note { color: #888; font-size: .9em; }
.error, .blocked { color: #c33; }
form.ask { display: flex; gap: .5rem; margin-top: 1rem; }
form.ask textarea { flex: 1; font: inherit; }
button { font: inherit; }
`;

/** The document up to and including `<body>`. */
export function pageStart(title: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
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
