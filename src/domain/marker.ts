/**
 * The hidden lines that say what an autosolve comment is. Every comment we
 * write starts with `<!-- autosolve -->` on its own line (the Go autosolve and
 * older builds write it too); the line after it says which kind:
 *
 *     <!-- autosolve:answer hash=<content hash> -->   an answer, to this title and body
 *     <!-- autosolve:reply to=<comment id> -->        a reply to that comment's mention
 *
 * A marker with no kind line (older builds, the Go project) is an answer of
 * unknown hash.
 *
 * Two ways to read a body, for two questions, each erring on the quiet side:
 * - `readMarker`, "is this comment ours?": only a marker outside block quotes
 *   and fenced code counts. A human quoting our answer (or showing the marker
 *   in a code block) wrote a comment of their own, and their mention of us must
 *   still be heard. It cannot make us answer ourselves: everything we write
 *   carries the marker on its first line, outside any quote, and has its
 *   mentions neutralised besides.
 * - `readMarkerAnywhere` / `isAnswer` / `isReplyTo`, "did we already answer
 *   (reply)?": a marker anywhere counts, quoted or fenced, as `hasMarker` has
 *   always read it. A false yes only keeps us quiet; a false no posts twice.
 */
import { COMMENT_MARKER } from './entities.js';
import { authoredText, unquoted } from './markdown-prose.js';

/** What an autosolve comment is. */
export type Marker = { readonly kind: 'answer'; readonly hash: string | null } | { readonly kind: 'reply'; readonly to: number };

/** The plain marker, exact or in the no-space spelling some writers produce. */
const PLAIN = /<!-- autosolve -->|<!--autosolve-->/;
/** The kind line, right after the plain marker: on the same line or the next one. */
const KIND = /^[ \t]*(?:\r?\n)?[ \t]*<!--[ \t]*autosolve:(answer|reply)\b([^\n]*?)-->/;
const HASH = /^[0-9a-f]{1,64}$/;
const REPLY_LINE = /<!--[ \t]*autosolve:reply[ \t]+to=(\d+)[ \t]*-->/g;

/** The marker lines of an answer to a title and body whose content hash is `hash`. */
export function answerMarker(hash: string): string {
  if (!HASH.test(hash)) throw new RangeError(`an answer marker's hash is lowercase hex, got ${JSON.stringify(hash)}`);
  return `${COMMENT_MARKER}\n<!-- autosolve:answer hash=${hash} -->`;
}

/** The marker lines of a reply to the comment whose GitHub id is `commentId`. */
export function replyMarker(commentId: number): string {
  if (!Number.isSafeInteger(commentId) || commentId <= 0) throw new RangeError(`a reply marker names a comment id, got ${commentId}`);
  return `${COMMENT_MARKER}\n<!-- autosolve:reply to=${commentId} -->`;
}

/** What the comment is, when it is ours: its first marker outside block quotes and fenced code; null when there is none. */
export function readMarker(body: string | null): Marker | null {
  return body === null ? null : firstMarker(authoredText(body));
}

/** Like `readMarker`, but a marker inside a quote or fenced code counts too: non-null exactly when `hasMarker` is true. */
export function readMarkerAnywhere(body: string | null): Marker | null {
  return body === null ? null : firstMarker(unquoted(body));
}

/** Whether the body is, or quotes, an autosolve answer (not a reply): the issue counts as answered. */
export function isAnswer(body: string | null): boolean {
  return readMarkerAnywhere(body)?.kind === 'answer';
}

/** Whether the body carries, anywhere, a reply marker for the comment `commentId`: that mention counts as answered. */
export function isReplyTo(body: string | null, commentId: number): boolean {
  if (body === null) return false;
  for (const match of body.matchAll(REPLY_LINE)) if (Number(match[1]) === commentId) return true;
  return false;
}

function firstMarker(text: string): Marker | null {
  const plain = PLAIN.exec(text);
  if (plain === null) return null;
  const kind = KIND.exec(text.slice(plain.index + plain[0].length));
  // A kind line that does not parse still follows a plain marker: an answer we cannot date.
  if (kind === null) return { kind: 'answer', hash: null };
  const fields = (kind[2] ?? '').trim();
  if (kind[1] === 'reply') {
    const to = /^to=(\d+)$/.exec(fields);
    const id = to === null ? NaN : Number(to[1]);
    return Number.isSafeInteger(id) && id > 0 ? { kind: 'reply', to: id } : { kind: 'answer', hash: null };
  }
  const hash = /^hash=(\S+)$/.exec(fields)?.[1];
  return { kind: 'answer', hash: hash !== undefined && HASH.test(hash) ? hash : null };
}
