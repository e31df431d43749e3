/**
 * A `follow-up` job: a trusted author mentioned autosolve in a comment (the
 * job's subject). The reply is a new comment that quotes the question's link
 * and carries a reply marker naming it, so the question is answered once:
 * before the executor runs, and again right before posting, the thread is
 * checked for that marker. The mention is read again first: deleted, edited
 * away or no longer from a trusted author means no reply. An `eyes` reaction
 * on the mention shows it was seen.
 */
import { formatComment } from '../../comment.js';
import type { Comment } from '../../entities.js';
import { DispatchError } from '../../errors.js';
import { DEFAULT_FOLLOW_UP_PROMPT, renderFollowUpPrompt } from '../../follow-up-prompt.js';
import { describeError } from '../../failure.js';
import { isReplyTo, readMarker } from '../../marker.js';
import { asksForFollowUp } from '../../mention.js';
import { AnsweredMeanwhile, hasCause, label, readComments, readIssue, routeOrSettle, runExecutor, scrubbed, settle, type Handling } from './dispatch-steps.js';

export async function followUpFlow(h: Handling): Promise<void> {
  const { deps, claim, where, job } = h;
  const conversation = deps.conversation;
  if (conversation === undefined) return settle(h, 'not-eligible');
  claim.step.set('reading the thread');
  const thread = await readComments(h);
  const question = thread.find((comment) => comment.githubId === job.subjectId);
  if (question === undefined) {
    deps.log.info({ ...where, comment: job.subjectId }, `${label(h)}: the comment is gone`);
    return settle(h, 'not-eligible');
  }
  const asks = asksForFollowUp(question, conversation.mention);
  if (!asks.asks) {
    deps.log.info({ ...where, comment: question.githubId, reason: asks.reason }, `${label(h)}: no longer asks: ${asks.reason}`);
    return settle(h, 'not-eligible');
  }
  if (replyTo(thread, question) !== undefined) return settle(h, 'already-answered');
  const issue = await readIssue(h, 'reading the issue before replying');
  if (issue.locked === true) return settle(h, 'not-eligible');
  const route = await routeOrSettle(h, { issue, event: 'mention', ...(question.authorAssociation === undefined ? {} : { actorAssociation: question.authorAssociation }) });
  if (route === undefined) return;

  if (!deps.dryRun) await seen(h, question);
  const answer = thread.find((comment) => readMarker(comment.body)?.kind === 'answer') ?? null;
  const prompt = renderFollowUpPrompt(
    route.prompt ?? conversation.followUpPrompt ?? DEFAULT_FOLLOW_UP_PROMPT,
    { issue: { ...where, title: issue.title, body: issue.body, labels: issue.labels, url: issue.htmlUrl }, answer, thread, question },
    deps.maxBodyChars,
  );
  const output = await runExecutor(h, route, issue, prompt);
  const comment = scrubbed(h, formatComment(output, { replyTo: question }));
  if (deps.dryRun) {
    deps.log.info({ ...where, comment: comment.body }, `dry run: would reply to comment ${question.githubId} on ${where.repository}#${issue.number}`);
    return settle(h, 'dry-run', { scrubbed: comment.scrubbed });
  }
  claim.step.set('posting the reply');
  let url: string;
  try {
    const posted = await deps.github.createComment(h.repository, issue.number, comment.body, claim.signal, {
      beforeWrite: async (writeSignal) => {
        await claim.lease.confirm();
        const reply = replyTo(await readComments(h, writeSignal), question);
        if (reply !== undefined) throw new AnsweredMeanwhile(reply.body);
      },
    });
    url = posted.htmlUrl;
  } catch (cause) {
    if (hasCause(cause, AnsweredMeanwhile)) return settle(h, 'already-answered');
    throw new DispatchError(where.repository, issue.number, `replying to comment ${question.githubId}`, { cause });
  }
  deps.observer?.commentPosted?.({ ...where, url });
  deps.log.info({ ...where, url, comment: question.githubId }, `replied to ${question.author ?? 'a comment'} on ${where.repository}#${issue.number}: ${url}`);
  await settle(h, 'answered', { url, scrubbed: comment.scrubbed });
}

function replyTo(thread: readonly Comment[], question: Comment): Comment | undefined {
  return thread.find((comment) => isReplyTo(comment.body, question.githubId));
}

/** The `eyes` reaction: it only shows the mention was seen, so a failure is logged and the reply goes on. */
async function seen(h: Handling, question: Comment): Promise<void> {
  h.claim.step.set('reacting to the mention');
  try {
    await h.deps.github.addReaction(h.repository, question.githubId, 'eyes', h.claim.signal);
  } catch (error) {
    if (h.claim.signal.aborted) throw error;
    h.deps.log.warn({ ...h.where, comment: question.githubId, error: describeError(error) }, `${label(h)}: could not react to the mention; replying anyway`);
  }
}
