/**
 * When a comment asks autosolve for a follow-up: a trusted person mentions
 * its handle in their own words. Quotes, code and HTML comments are not their
 * own words (a quoted question was asked already; code shows a command, it
 * does not say it), bots never ask, and neither do we: our comments carry the
 * marker, and their mentions are neutralised besides, so an answer that says
 * `@autosolve` cannot start a loop.
 */
import type { Comment } from './entities.js';
import { authoredText } from './markdown-prose.js';
import { readMarker } from './marker.js';

export interface MentionSettings {
  /** ai.mention: the handle, with or without its `@`; matched ignoring case. */
  readonly handle: string;
  /** ai.mentionFrom: the author associations (OWNER, MEMBER, ...) allowed to ask; matched ignoring case. */
  readonly allowed: readonly string[];
}

export type FollowUpVerdict = { readonly asks: true } | { readonly asks: false; readonly reason: string };

/**
 * Whether `body` mentions `handle` in the author's own words: outside block
 * quotes, fenced and inline code and HTML comments; not inside a longer name
 * (`@autosolve-bot` is someone else) nor an email address (`me@autosolve.dev`).
 */
export function mentions(body: string, handle: string): boolean {
  const name = handle.trim().replace(/^@/, '');
  if (name === '') return false;
  const pattern = new RegExp(`(?<![A-Za-z0-9_])@${escapeRegExp(name)}(?![A-Za-z0-9_-])`, 'i');
  return authoredText(body)
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .split(/\n[ \t]*\n/)
    .some((paragraph) => pattern.test(withoutCodeSpans(paragraph)));
}

/** Whether the comment asks for a follow-up, and if not, why (for the logs). */
export function asksForFollowUp(comment: Pick<Comment, 'body' | 'author' | 'authorAssociation' | 'authorIsBot'>, settings: MentionSettings): FollowUpVerdict {
  if (!mentions(comment.body, settings.handle)) return { asks: false, reason: `it does not mention ${settings.handle} outside quotes and code` };
  if (readMarker(comment.body) !== null) return { asks: false, reason: 'it carries the autosolve marker: it is an autosolve comment' };
  if (comment.author === null) return { asks: false, reason: 'its author is unknown (a deleted account)' };
  if (comment.authorIsBot === true || /\[bot\]$/i.test(comment.author)) return { asks: false, reason: `its author ${comment.author} is a bot` };
  const association = comment.authorAssociation?.toUpperCase();
  if (association === undefined || !settings.allowed.some((allowed) => allowed.toUpperCase() === association)) {
    return {
      asks: false,
      reason: `its author's association ${association ?? '(unknown)'} is not in ai.mentionFrom (${settings.allowed.join(', ') || 'none'})`,
    };
  }
  return { asks: true };
}

/**
 * Blanks inline code spans: a run of N backticks up to the next run of
 * exactly N. A run with no partner is literal text, as in CommonMark.
 */
function withoutCodeSpans(text: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const open = /`+/g;
    open.lastIndex = at;
    const start = open.exec(text);
    if (start === null) return out + text.slice(at);
    const ticks = start[0].length;
    const close = new RegExp(`(?<!\`)\`{${ticks}}(?!\`)`, 'g');
    close.lastIndex = start.index + ticks;
    const end = close.exec(text);
    if (end === null) {
      out += text.slice(at, start.index + ticks);
      at = start.index + ticks;
      continue;
    }
    out += `${text.slice(at, start.index)} `;
    at = end.index + ticks;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
