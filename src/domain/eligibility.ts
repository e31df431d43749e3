/** Which issues get an answer: the one rule the poller (enqueue) and the dispatcher (re-check) share. */
import type { Issue } from './entities.js';

/** The queue job type for answering an issue. */
export const ANSWER_JOB = 'answer';

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
