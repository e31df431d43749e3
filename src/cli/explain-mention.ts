/**
 * `autosolve explain --event mention`: the follow-up a comment would get. The
 * thread is read as the daemon reads it; the question is the comment given by
 * --comment, or the newest one that mentions the handle. What the daemon would
 * make of it (does it ask? was it answered?) is judged by the same domain
 * functions the comment poller and the dispatcher use.
 */
import type { Comment, Issue } from '../domain/entities.js';
import { DEFAULT_FOLLOW_UP_PROMPT, renderFollowUpPrompt } from '../domain/follow-up-prompt.js';
import { isReplyTo, readMarker } from '../domain/marker.js';
import { asksForFollowUp, mentions, type FollowUpVerdict, type MentionSettings } from '../domain/mention.js';
import type { PromptIssue } from '../domain/prompt.js';
import { UsageError, UserFacingError } from './errors.js';

export interface Mention {
  /** Every comment of the issue, oldest first, as GitHub gave them. */
  readonly thread: readonly Comment[];
  /** The question: given by --comment, or the newest comment mentioning the handle; null when there is none. */
  readonly question: Comment | null;
  /** How the question was found. */
  readonly chosen: 'given' | 'newest';
  /** Whether the daemon would queue a follow-up for it; null without a question. */
  readonly asks: FollowUpVerdict | null;
  /** Our reply to the question, already on the thread. */
  readonly reply: Comment | undefined;
  /** Our answer on the issue (a reply does not count), for the prompt. */
  readonly answer: Comment | null;
}

/** `--comment 123` or a comment's link (`…#issuecomment-123`); checked before any request. */
export function parseCommentId(text: string): number {
  const id = /^(\d+)$/.exec(text.trim())?.[1] ?? /#issuecomment-(\d+)$/.exec(text.trim())?.[1];
  const number = Number(id);
  if (id === undefined || !Number.isSafeInteger(number) || number < 1) {
    throw new UsageError(`explain --comment: expected a comment id (or its #issuecomment- link), got "${text}"`);
  }
  return number;
}

/** The question and what the daemon would make of it. `where` names the issue (`acme/api#1`) in errors. */
export function readMention(thread: readonly Comment[], commentId: number | undefined, settings: MentionSettings, where: string): Mention {
  let question: Comment | null;
  if (commentId !== undefined) {
    question = thread.find((comment) => comment.githubId === commentId) ?? null;
    if (question === null) throw new UserFacingError(`explain --comment ${commentId}: it is not a comment on ${where} (deleted, or on another issue)`);
  } else {
    question = thread.findLast((comment) => readMarker(comment.body) === null && mentions(comment.body, settings.handle)) ?? null;
  }
  const asked = question;
  return {
    thread,
    question: asked,
    chosen: commentId === undefined ? 'newest' : 'given',
    asks: asked === null ? null : asksForFollowUp(asked, settings),
    reply: asked === null ? undefined : thread.find((comment) => isReplyTo(comment.body, asked.githubId)),
    answer: thread.find((comment) => readMarker(comment.body)?.kind === 'answer') ?? null,
  };
}

/** The follow-up prompt as the dispatcher renders it: the route's template, or the mention event's default. */
export function renderMentionPrompt(template: string | undefined, issue: PromptIssue, mention: Mention & { readonly question: Comment }, budget: number): string {
  return renderFollowUpPrompt(template ?? DEFAULT_FOLLOW_UP_PROMPT, { issue, answer: mention.answer, thread: mention.thread, question: mention.question }, budget);
}

/** What the prompt says of the issue (the same fields for an answer and a follow-up). */
export function promptIssue(repository: string, issue: Issue): PromptIssue {
  return { repository, number: issue.number, title: issue.title, body: issue.body, labels: issue.labels, url: issue.htmlUrl };
}
