/**
 * A `revise` job: the title or body of an answered issue changed, so the
 * answer is recomputed and the same comment edited in place. Whether the
 * answer is current is decided by the hash its marker carries, so a restart or
 * another daemon agrees: an answer whose hash matches the issue as GitHub has
 * it now is left alone. At most `maxRevisionsPerIssue` revisions per issue in
 * any 24 hours; past that the job waits, without spending an attempt, until
 * the oldest leaves the window.
 */
import { formatComment } from '../../comment.js';
import { contentHash } from '../../content-hash.js';
import type { Comment } from '../../entities.js';
import { REVISE_JOB } from '../../eligibility.js';
import { DispatchError } from '../../errors.js';
import { readMarker } from '../../marker.js';
import { renderPrompt } from '../../prompt.js';
import { label, readComments, readIssue, routeOrSettle, runExecutor, scrubbed, settle, type Handling } from './dispatch-steps.js';

const DAY_MS = 86_400_000;

export async function reviseFlow(h: Handling): Promise<void> {
  const { deps, claim, where } = h;
  const conversation = deps.conversation;
  if (conversation === undefined) return settle(h, 'not-eligible');
  claim.step.set('reading the issue');
  const issue = await readIssue(h, 'reading the issue to revise its answer');
  if (issue.locked === true) return settle(h, 'not-eligible');
  const route = await routeOrSettle(h, { issue, event: 'edited' });
  if (route === undefined) return;

  claim.step.set('finding the answer');
  const answer = ourAnswer(await readComments(h));
  if (answer === undefined) {
    // An answer without a hash comes from an earlier build, the Go autosolve or another account: never edited.
    deps.log.info({ ...where }, `${label(h)}: no answer of this autosolve on the issue to revise`);
    return settle(h, 'current');
  }
  const hash = contentHash(issue);
  if (answer.hash === hash) return settle(h, 'current');

  const now = deps.now();
  const recent = await conversation.revisions.revisionsSince(issue.githubId, new Date(now.getTime() - DAY_MS).toISOString());
  if (recent.length >= conversation.maxRevisionsPerIssue) {
    const oldest = Date.parse(recent[0] ?? now.toISOString());
    const waitMs = Math.max(1_000, oldest + DAY_MS - now.getTime());
    await deps.queue.release(h.job, waitMs, `revised ${recent.length} times in 24 h (ai.maxRevisionsPerIssue: ${conversation.maxRevisionsPerIssue})`);
    deps.log.info(
      { ...where, revisions: recent.length, waitMs },
      `${label(h)}: ai.maxRevisionsPerIssue (${conversation.maxRevisionsPerIssue}) reached in the last 24 h; revising again in ${Math.ceil(waitMs / 60_000)} min`,
    );
    return;
  }

  const prompt = renderPrompt(route.prompt ?? deps.promptTemplate, { ...where, title: issue.title, body: issue.body, labels: issue.labels, url: issue.htmlUrl }, deps.maxBodyChars);
  const output = await runExecutor(h, route, issue, prompt);
  const comment = scrubbed(h, formatComment(output, { hash, revised: true }));

  claim.step.set('confirming the issue is still open to comments');
  const fresh = await readIssue(h, 'reading the issue again before editing the answer');
  if (fresh.locked === true) return settle(h, 'not-eligible');
  // Edited again during the run: this revision goes out, and another follows it.
  const then = contentHash(fresh) !== hash ? { then: { type: REVISE_JOB, issueGithubId: issue.githubId } } : {};
  if (deps.dryRun) {
    deps.log.info({ ...where, comment: comment.body }, `dry run: would edit comment ${answer.comment.githubId} on ${where.repository}#${issue.number}`);
    return settle(h, 'dry-run', { scrubbed: comment.scrubbed });
  }
  claim.step.set('editing the answer');
  await claim.lease.confirm();
  let url: string;
  try {
    url = (await deps.github.updateComment(h.repository, answer.comment.githubId, comment.body, claim.signal)).htmlUrl;
  } catch (cause) {
    throw new DispatchError(where.repository, issue.number, `editing the answer (comment ${answer.comment.githubId})`, { cause });
  }
  deps.observer?.commentPosted?.({ ...where, url });
  deps.log.info({ ...where, url }, `revised the answer on ${where.repository}#${issue.number} after an edit: ${url}`);
  await settle(h, 'revised', { url, scrubbed: comment.scrubbed, ...then });
}

/**
 * Our answer on the issue: the first comment whose own marker says answer and
 * names the hash it answered. One without a hash (an earlier build, the Go
 * autosolve, a pasted marker) may belong to another account, which GitHub
 * would not let us edit.
 */
function ourAnswer(comments: readonly Comment[]): { comment: Comment; hash: string } | undefined {
  for (const comment of comments) {
    const marker = readMarker(comment.body);
    if (marker?.kind === 'answer' && marker.hash !== null) return { comment, hash: marker.hash };
  }
  return undefined;
}
