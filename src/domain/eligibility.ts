/** Which issues get an answer: the one rule the poller (enqueue) and the dispatcher (re-check) share. */
import type { Issue } from './entities.js';

/** The queue job type for answering an issue. */
export const ANSWER_JOB = 'answer';
/** The queue job type for revising an answer after the issue's title or body changed. */
export const REVISE_JOB = 'revise';
/** The queue job type for replying to a comment that mentions the bot (its subject: the comment). */
export const FOLLOW_UP_JOB = 'follow-up';

/**
 * Open, not a pull request, and carrying the required label (case-insensitive)
 * when one is configured.
 */
export function wantsAnswer(issue: Pick<Issue, 'state' | 'isPullRequest' | 'labels'>, requiredLabel: string | undefined): boolean {
  if (issue.state !== 'open' || issue.isPullRequest) return false;
  if (!requiredLabel) return true;
  const wanted = requiredLabel.toLowerCase();
  return issue.labels.some((label) => label.toLowerCase() === wanted);
}

/**
 * github.issues.backlog, resolved by the configuration: `answer` everything,
 * `skip` what was last updated before the repository's first sync, or a window
 * in milliseconds before the first sync whose issues are still answered.
 */
export type BacklogPolicy = 'skip' | 'answer' | number;

/** Issues last updated before this instant are backlog; null when nothing is. */
export function backlogCutoff(policy: BacklogPolicy, firstSyncAt: string): Date | null {
  if (policy === 'answer') return null;
  return new Date(Date.parse(firstSyncAt) - (policy === 'skip' ? 0 : policy));
}

/** Recorded but not queued: last updated before the cutoff. */
export function isBacklog(issue: Pick<Issue, 'updatedAt'>, cutoff: Date | null): boolean {
  return cutoff !== null && Date.parse(issue.updatedAt) < cutoff.getTime();
}

/** `skip`, `answer` or `7d`, as the key is written. */
export function describeBacklogPolicy(policy: BacklogPolicy): string {
  if (typeof policy !== 'number') return policy;
  const units: Array<[string, number]> = [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]];
  for (const [unit, size] of units) if (policy > 0 && policy % size === 0) return `${policy / size}${unit}`;
  return `${policy}ms`;
}

/** What the logs and `status` say about issues left out as backlog, naming the key that changes it. */
export function backlogNotice(count: number, cutoff: Date, policy: BacklogPolicy): string {
  const widen = policy === 'skip' ? 'answer or 7d' : 'answer or a longer duration';
  return (
    `${count} ${count === 1 ? 'issue' : 'issues'} older than ${cutoff.toISOString()} skipped as backlog ` +
    `(github.issues.backlog: ${describeBacklogPolicy(policy)}); set github.issues.backlog: ${widen} to answer them`
  );
}

/** An unanswered issue as stored and its latest settled job (see BacklogStore.unanswered). */
export interface UnansweredState {
  readonly issue: Pick<Issue, 'state' | 'isPullRequest' | 'labels' | 'updatedAt'>;
  readonly latestJob: { readonly state: 'done' | 'dead'; readonly outcome: string | null } | null;
}

/**
 * What github.issues.backlog and ai.dryRun now say about an issue nobody
 * answered and no job is waiting for: `queue` it, leave it out as `backlog`,
 * or `leave` it (not eligible; dead until an operator retries it; already seen
 * by this dry run; or judged not eligible, which a later change revisits).
 */
export function unansweredDecision(
  entry: UnansweredState,
  cutoff: Date | null,
  requiredLabel: string | undefined,
  dryRun: boolean,
): 'queue' | 'backlog' | 'leave' {
  if (!wantsAnswer(entry.issue, requiredLabel)) return 'leave';
  const latest = entry.latestJob;
  if (latest?.state === 'dead') return 'leave';
  if (isBacklog(entry.issue, cutoff)) return 'backlog';
  if (latest === null) return 'queue';
  if (latest.outcome === 'dry-run') return dryRun ? 'leave' : 'queue';
  // A rule's skip, like not-eligible, is revisited by the issue's next change, not by every start.
  return latest.outcome === 'not-eligible' || latest.outcome === 'skipped' ? 'leave' : 'queue';
}
