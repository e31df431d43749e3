/**
 * What an answer answered: a short hash of the issue's title and body. An edit
 * that changes it asks for re-analysis; labels, reactions, state and comments
 * (which bump `updated_at` too) do not. Line endings and surrounding blanks are
 * normalised, so a client that rewrites CRLF does not count as an edit.
 */
import { createHash } from 'node:crypto';
import type { Issue } from './entities.js';

/** 16 hex characters of sha256 over the normalised title and body. */
export function contentHash(issue: Pick<Issue, 'title' | 'body'>): string {
  const normalise = (text: string) => text.replace(/\r\n?/g, '\n').trim();
  return createHash('sha256')
    .update(`${normalise(issue.title)}\n\u0000\n${normalise(issue.body ?? '')}`)
    .digest('hex')
    .slice(0, 16);
}
