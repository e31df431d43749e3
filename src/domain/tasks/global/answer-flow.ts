/**
 * An `answer` job: the issue's first answer. Never twice: before running the
 * executor, and again right before posting (once the write throttle lets the
 * comment through), every comment is checked for an answer marker, whoever
 * wrote it. Right before posting the issue is read again: closed, unlabelled
 * or locked during the model run means no comment. The answer's marker carries
 * the hash of the title and body it answered; when they changed during the
 * run, a revision is queued with the settlement.
 */
import { formatComment } from '../../comment.js';
import { contentHash } from '../../content-hash.js';
import type { Comment, Issue } from '../../entities.js';
import { REVISE_JOB, wantsAnswer } from '../../eligibility.js';
import { DispatchError } from '../../errors.js';
import { isAnswer, readMarker } from '../../marker.js';
import { renderPrompt } from '../../prompt.js';
import { AnsweredMeanwhile, causeOf, readComments, readIssue, routeOrSettle, runExecutor, scrubbed, settle, type Handling } from './dispatch-steps.js';

export async function answerFlow(h: Handling): Promise<void> {
  const { deps, issue, claim, where } = h;
  // The synced data decides eligibility: no extra API call for the label.
  const route = await routeOrSettle(h, { issue, event: 'opened' });
  if (route === undefined) return;
  claim.step.set('checking the comments');
  const existing = await answerOnIssue(h);
  if (existing !== undefined) return settleFound(h, existing.body);

  const prompt = renderPrompt(route.prompt ?? deps.promptTemplate, { ...where, title: issue.title, body: issue.body, labels: issue.labels, url: issue.htmlUrl }, deps.maxBodyChars);
  const output = await runExecutor(h, route, issue, prompt);
  const hash = contentHash(issue);
  const comment = scrubbed(h, formatComment(output, { hash }));

  // The issue may have been closed, unlabelled or locked during the model run.
  claim.step.set('confirming the issue is still eligible');
  const fresh = await readIssue(h, 'reading the issue again before posting');
  const stale = noLongerAnswered(h, fresh);
  if (stale !== undefined) {
    deps.log.info({ ...where, reason: stale }, `${where.repository}#${issue.number}: ${stale} during the model run`);
    return settle(h, 'not-eligible');
  }
  // Edited since the sync that queued it: the answer goes out, and a revision follows it.
  const then = deps.reanalyze && contentHash(fresh) !== hash ? { then: { type: REVISE_JOB, issueGithubId: issue.githubId } } : {};
  if (deps.dryRun) {
    deps.log.info({ ...where, comment: comment.body }, `dry run: would post this comment on ${where.repository}#${issue.number}`);
    return settle(h, 'dry-run', { scrubbed: comment.scrubbed });
  }
  claim.step.set('posting the comment');
  let url: string;
  try {
    const posted = await deps.github.createComment(h.repository, issue.number, comment.body, claim.signal, {
      // Once the throttle lets the write through (it may have held it for
      // minutes): the claim must still be ours, and nobody may have answered.
      beforeWrite: async (writeSignal) => {
        await claim.lease.confirm();
        const found = await answerOnIssue(h, writeSignal);
        if (found !== undefined) throw new AnsweredMeanwhile(found.body);
      },
    });
    url = posted.htmlUrl;
  } catch (cause) {
    // Another instance, or this one before a crash, answered meanwhile.
    const meanwhile = causeOf(cause, AnsweredMeanwhile);
    if (meanwhile !== undefined) return settleFound(h, meanwhile.body);
    throw new DispatchError(where.repository, issue.number, 'posting the comment', { cause });
  }
  deps.observer?.commentPosted?.({ ...where, url });
  deps.log.info({ ...where, url }, `answered ${where.repository}#${issue.number}: ${url}`);
  await settle(h, 'answered', { url, scrubbed: comment.scrubbed, ...then });
}

/** Why the issue, read again now, must not get the answer; undefined when it still should. */
function noLongerAnswered(h: Handling, fresh: Issue): string | undefined {
  if (fresh.state !== 'open') return 'closed';
  if (fresh.locked === true) return 'locked';
  if (!wantsAnswer(fresh, h.deps.requiredLabel)) return `no longer labelled ${h.deps.requiredLabel ?? ''}`.trim();
  const route = h.deps.router.route({ repository: h.where.repository, issue: fresh, event: 'opened' });
  if (route.kind === 'none') return route.reason;
  if (route.kind === 'skip') return `rules[${route.rule}] now says skip`;
  return undefined;
}

/** The answer on the issue already, whoever wrote it (a reply to a mention does not count). */
async function answerOnIssue(h: Handling, signal?: AbortSignal): Promise<Comment | undefined> {
  return (await readComments(h, signal)).find((comment) => isAnswer(comment.body));
}

/**
 * Settles the job `already-answered`: an answer was there (`body`). When it is
 * ours (posted by a daemon killed before it settled) for other text than the
 * issue's as synced, a revision follows; an edit synced while this job ran
 * gets one through settle().
 */
function settleFound(h: Handling, body: string): Promise<void> {
  const marker = readMarker(body);
  const stale = h.deps.reanalyze && marker?.kind === 'answer' && marker.hash !== null && marker.hash !== contentHash(h.issue);
  return settle(h, 'already-answered', stale ? { then: { type: REVISE_JOB, issueGithubId: h.issue.githubId } } : {});
}
