/**
 * Preflight, per repository: apply today's github.issues.backlog and
 * ai.dryRun to what is still unanswered, before any worker starts. Issues now
 * inside the window that nobody answered (a dry run's included, once dry run
 * is off) are queued; pending jobs of issues now outside it are settled as
 * `backlog`, which does not count as handled, so widening the window later
 * brings them back. A repository not polled yet has nothing to reconcile.
 */
import { fullName, type RepositoryRef } from '../../entities.js';
import { backlogCutoff, isBacklog, unansweredDecision, type BacklogPolicy } from '../../eligibility.js';
import type { BacklogStore, Log } from '../../ports.js';
import type { RepositorySetupSpec } from '../../spec.js';

export interface BacklogReconcilerDeps {
  readonly store: BacklogStore;
  /** github.issues.backlog. */
  readonly backlog: BacklogPolicy;
  readonly requiredLabel: string | undefined;
  /** ai.dryRun: while on, issues a dry run already saw are not run again. */
  readonly dryRun: boolean;
  readonly log: Log;
}

export class ReconcileBacklogError extends Error {
  constructor(repository: RepositoryRef, options: { cause: unknown }) {
    super(`reconciling ${fullName(repository)}'s unanswered issues with github.issues.backlog and ai.dryRun failed`, options);
    this.name = 'ReconcileBacklogError';
  }
}

export function backlogReconciler(deps: BacklogReconcilerDeps): RepositorySetupSpec {
  return {
    resource: 'backlog-reconciler',
    async run(_signal, repository) {
      try {
        await reconcile(deps, repository);
      } catch (cause) {
        throw new ReconcileBacklogError(repository, { cause });
      }
    },
  };
}

async function reconcile(deps: BacklogReconcilerDeps, repository: RepositoryRef): Promise<void> {
  const firstSync = await deps.store.firstSync(repository);
  if (!firstSync) return;
  const cutoff = backlogCutoff(deps.backlog, firstSync.at);
  const outside = (await deps.store.pending(firstSync.repositoryId)).filter((job) => isBacklog(job.issue, cutoff));
  const settled = await deps.store.settleAsBacklog(outside.map((job) => job.jobId));
  const unanswered = await deps.store.unanswered(firstSync.repositoryId);
  const toQueue = unanswered.filter((entry) => unansweredDecision(entry, cutoff, deps.requiredLabel, deps.dryRun) === 'queue');
  const queued = await deps.store.enqueue(firstSync.repositoryId, toQueue.map((entry) => entry.issue.githubId));
  if (settled > 0 || queued > 0) {
    deps.log.info(
      { repository: fullName(repository), queued, settledAsBacklog: settled },
      `${fullName(repository)}: ${queued} unanswered issues queued, ${settled} pending jobs settled as backlog ` +
        '(github.issues.backlog and ai.dryRun apply to what is still unanswered)',
    );
  }
}
