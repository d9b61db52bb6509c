/**
 * A small page with one message: not found, expired, bad request and the like.
 */
import { escapeHtml } from "./format.ts";
import { renderLayout } from "./layout.ts";

/**
 * A page saying `title` and `text` (`data-testid="message"`), with the HTTP
 * `status` shown before the title when given. The caller still sets the
 * response status itself.
 */
export function renderMessage(title: string, text: string, status?: number): string {
  const code =
    status === undefined ? "" : `<span class="status-code" data-testid="status-code">${escapeHtml(status)}</span>`;
  const body = `<h1>${code}${escapeHtml(title)}</h1>
<p data-testid="message">${escapeHtml(text)}</p>`;
  return renderLayout({ title: status === undefined ? title : `${status} ${title}`, bodyHtml: body });
}
