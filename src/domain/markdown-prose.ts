/**
 * What a comment's author wrote themselves, as far as autosolve needs to
 * know: the Markdown outside block quotes (someone else's words, usually) and
 * fenced code (text shown, not said). The marker reader and the mention check
 * read only this.
 *
 * Deliberately generous about code, unlike `neutralizeMentions`: a fence
 * opens at any indentation (a fence inside a list item is still code), since
 * here treating a line as code can only make autosolve quieter. Lazy
 * continuation lines (text right under a quote without its `>`) count as the
 * author's: GitHub's quote reply leaves a blank line after the quote, so what
 * follows without one is normally the author typing.
 */

/** The text with every line inside a block quote or fenced code blanked (line breaks kept, so paragraphs still end there). */
export function authoredText(text: string): string {
  const lines = text.split(/\r?\n/);
  let fence: { char: string; length: number } | null = null;
  return lines
    .map((line) => {
      if (fence !== null) {
        const close = /^[ \t]*(`{3,}|~{3,})[ \t]*$/.exec(line);
        if (close?.[1] !== undefined && close[1][0] === fence.char && close[1].length >= fence.length) fence = null;
        return '';
      }
      if (/^[ \t]*>/.test(line)) return '';
      const open = /^[ \t]*(`{3,}|~{3,})(.*)$/.exec(line);
      if (open?.[1] !== undefined && !(open[1].startsWith('`') && (open[2] ?? '').includes('`'))) {
        fence = { char: open[1][0] ?? '`', length: open[1].length };
        return '';
      }
      return line;
    })
    .join('\n');
}

/** The text with the `>` prefixes of quoted lines removed, nested ones too: what someone quoting a comment carried over of it. */
export function unquoted(text: string): string {
  return text
    .split(/\r?\n/)
    .map((line) => line.replace(/^(?:[ \t]*>)+[ \t]?/, ''))
    .join('\n');
}
