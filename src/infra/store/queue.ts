/**
 * The durable dispatch queue: rows in the same database as the issues, so the
 * poller enqueues inside its sync transaction. Atomic claim with a lease the
 * worker renews while it lives, bounded attempts with backoff, a dead state,
 * and a manual retry. A claim records its owner (instance, host, pid): a job
 * whose owner died on this host is visible again at once, elsewhere when its
 * lease runs out.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Selectable } from 'kysely';
import { REVISE_JOB } from '../../domain/eligibility.js';
import type { DispatchQueue, JobRequest, JobResult, QueueJob, RevisionLog } from '../../domain/ports.js';
import { isPostgres } from './engine.js';
import { enqueueJobs } from './issue-writes.js';
import { processAlive, type InstanceIdentity } from './instances.js';
import type { JobsTable, QueueJobState, Schema } from './schema.js';
import { StatementCache } from './statement-cache.js';
import { countJobs, getJob, listJobs, NO_CLAIM, retryJob, retryMatchingJobs, type QueueJobRecord, type RetryableOutcome } from './queue-operator.js';

export interface QueueOptions {
  /** Delay before the second attempt; doubles each attempt, capped at `maxRetryDelayMs`. Default 60 s. */
  readonly retryDelayMs?: number;
  /** Default 1 h. */
  readonly maxRetryDelayMs?: number;
  readonly now?: () => Date;
  /** Recorded with each claim. Default: none (claims of dead owners come back only when their lease expires). */
  readonly owner?: InstanceIdentity;
  /** Whether a pid of this host is alive. Default: signal 0. */
  readonly isAlive?: (pid: number) => boolean;
}

export class SqlJobQueue implements DispatchQueue, RevisionLog {
  readonly #now: () => Date;
  readonly #retryDelayMs: number;
  readonly #maxRetryDelayMs: number;
  readonly #owner: InstanceIdentity | undefined;
  readonly #isAlive: (pid: number) => boolean;
  readonly #statements = new StatementCache();

  constructor(
    private readonly db: Kysely<Schema>,
    options: QueueOptions = {},
  ) {
    this.#now = options.now ?? (() => new Date());
    this.#retryDelayMs = options.retryDelayMs ?? 60_000;
    this.#maxRetryDelayMs = options.maxRetryDelayMs ?? 3_600_000;
    this.#owner = options.owner;
    this.#isAlive = options.isAlive ?? processAlive;
  }

  async claim(types: string | readonly string[], limit: number, leaseMs: number): Promise<QueueJob[]> {
    await this.#expireDeadOwners();
    const type = typeof types === 'string' ? [types] : [...types];
    const now = this.#now();
    const nowText = now.toISOString();
    const token = randomUUID();
    // One statement: select the visible jobs and take them, so two claimers never
    // get the same row. A running job whose claim expired is visible again.
    // Each kind of visible row is found through its own partial index.
    const pending = this.db
      .selectFrom('jobs')
      .select(['id', 'run_after'])
      .where('type', 'in', type)
      .where('state', '=', 'pending')
      .where('run_after', '<=', nowText)
      .orderBy('run_after')
      .orderBy('id')
      .limit(limit);
    const expired = this.db
      .selectFrom('jobs')
      .select(['id', 'run_after'])
      .where('type', 'in', type)
      .where('state', '=', 'running')
      .where('locked_until', '<=', nowText)
      .orderBy('locked_until')
      .limit(limit);
    // On PostgreSQL several daemons claim at once: each skips the rows another is
    // taking instead of waiting for them (SQLite has one writer at a time).
    const shared = isPostgres(this.db);
    const candidates = this.db
      .selectFrom((shared ? pending.forUpdate().skipLocked() : pending).as('pending'))
      .selectAll()
      .unionAll(this.db.selectFrom((shared ? expired.forUpdate().skipLocked() : expired).as('expired')).selectAll());
    const rows = await this.db
      .updateTable('jobs')
      .set((eb) => ({
        state: 'running',
        attempts: eb('attempts', '+', 1),
        locked_until: new Date(now.getTime() + leaseMs).toISOString(),
        locked_by: token,
        owner_instance: this.#owner?.id ?? null,
        owner_host: this.#owner?.host ?? null,
        owner_pid: this.#owner?.pid ?? null,
        updated_at: nowText,
      }))
      .where('id', 'in', this.db.selectFrom(candidates.as('visible')).select('id').orderBy('run_after').orderBy('id').limit(limit))
      .returningAll()
      .execute();
    return rows.map(toQueueJob);
  }

  /**
   * Extends the claim's lease to `leaseMs` from now, if it is still ours (fenced
   * by its token). False means the claim was lost: another worker may hold the
   * job, and nothing more may be done in its name.
   */
  async renew(job: QueueJob, leaseMs: number): Promise<boolean> {
    const now = this.#now();
    const result = await this.#ownRow(job)
      .set({ locked_until: new Date(now.getTime() + leaseMs).toISOString(), updated_at: now.toISOString() })
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async complete(job: QueueJob, result: JobResult): Promise<void> {
    const now = this.#now().toISOString();
    const done = {
      state: 'done' as const,
      outcome: result.outcome,
      comment_url: result.commentUrl ?? null,
      scrubbed: result.scrubbed ?? 0,
      ...NO_CLAIM,
      last_error: null,
      updated_at: now,
      finished_at: now,
    };
    const { then, claimedHash } = result;
    if (then === undefined && claimedHash === undefined) {
      await this.#ownRow(job).set(done).execute();
      return;
    }
    // Follow-on jobs are queued only if this claim was still ours to settle.
    await this.db.transaction().execute(async (trx) => {
      const settled = await ownRow(trx, job).set(done).executeTakeFirst();
      if (Number(settled.numUpdatedRows) === 0) return;
      const next: JobRequest[] = then === undefined ? [] : [then];
      if (claimedHash !== undefined) {
        const stored = await trx.selectFrom('issues').select('content_hash').where('github_id', '=', job.issueGithubId).executeTakeFirst();
        if (stored?.content_hash != null && stored.content_hash !== claimedHash) next.push({ type: REVISE_JOB, issueGithubId: job.issueGithubId });
      }
      if (next.length === 0) return;
      await enqueueJobs(trx, this.#statements, next.map((request) => ({ ...request, repositoryId: job.repositoryId })), { maxAttempts: job.maxAttempts, now });
    });
  }

  async release(job: QueueJob, delayMs: number, error?: string): Promise<void> {
    const now = this.#now();
    await this.#ownRow(job)
      .set((eb) => ({
        state: 'pending',
        attempts: eb('attempts', '-', 1),
        ...(error === undefined ? {} : { last_error: error.slice(0, 4000) }),
        run_after: new Date(now.getTime() + delayMs).toISOString(),
        ...NO_CLAIM,
        updated_at: now.toISOString(),
      }))
      .execute();
  }

  async fail(job: QueueJob, error: string): Promise<'retrying' | 'dead'> {
    const now = this.#now();
    const dead = job.attempts >= job.maxAttempts;
    const delay = Math.min(this.#retryDelayMs * 2 ** Math.max(0, job.attempts - 1), this.#maxRetryDelayMs);
    await this.#ownRow(job)
      .set({
        state: dead ? 'dead' : 'pending',
        last_error: error.slice(0, 4000),
        run_after: new Date(now.getTime() + (dead ? 0 : delay)).toISOString(),
        ...NO_CLAIM,
        updated_at: now.toISOString(),
        finished_at: dead ? now.toISOString() : null,
      })
      .execute();
    return dead ? 'dead' : 'retrying';
  }

  async releaseCounted(job: QueueJob, error: string, maxReleases: number): Promise<{ state: 'released' | 'dead'; releases: number }> {
    const now = this.#now().toISOString();
    // One statement: SET reads the row as it was, so `releases + 1` is this release.
    const dies = sql<boolean>`releases + 1 >= ${maxReleases}`;
    const row = await this.#ownRow(job)
      .set((eb) => ({
        state: sql<QueueJobState>`CASE WHEN ${dies} THEN 'dead' ELSE 'pending' END`,
        attempts: eb('attempts', '-', 1),
        releases: eb('releases', '+', 1),
        last_error: error.slice(0, 4000),
        run_after: now,
        ...NO_CLAIM,
        updated_at: now,
        finished_at: sql<string | null>`CASE WHEN ${dies} THEN ${now} ELSE NULL END`,
      }))
      .returning(['state', 'releases'])
      .executeTakeFirst();
    return { state: row?.state === 'dead' ? 'dead' : 'released', releases: row?.releases ?? 0 };
  }

  /**
   * A claim whose owner process is gone from this host expires now, so the
   * claim below takes it instead of waiting out the lease. Another host's
   * owners cannot be checked: their leases expire.
   */
  async #expireDeadOwners(): Promise<void> {
    const self = this.#owner;
    if (!self) return;
    const owners = await this.db
      .selectFrom('jobs')
      .select(['owner_instance', 'owner_pid'])
      .distinct()
      .where('state', '=', 'running')
      .where('owner_host', '=', self.host)
      .where('owner_instance', '!=', self.id)
      .execute();
    const dead = owners.filter((o) => o.owner_instance !== null && o.owner_pid !== null && o.owner_pid !== self.pid && !this.#isAlive(o.owner_pid));
    if (dead.length === 0) return;
    await this.db
      .updateTable('jobs')
      .set({ locked_until: this.#now().toISOString() })
      .where('state', '=', 'running')
      .where('owner_host', '=', self.host)
      .where('owner_instance', 'in', dead.map((o) => o.owner_instance as string))
      .execute();
  }

  /** Finish times of the issue's `revise` jobs that ended `revised` at or after `since`, oldest first (ai.maxRevisionsPerIssue). */
  async revisionsSince(issueGithubId: number, since: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('jobs')
      .select('finished_at')
      .where('issue_github_id', '=', issueGithubId)
      .where('type', '=', REVISE_JOB)
      .where('state', '=', 'done')
      .where('outcome', '=', 'revised')
      .where('finished_at', '>=', since)
      .orderBy('finished_at')
      .orderBy('id')
      .execute();
    return rows.flatMap((row) => (row.finished_at === null ? [] : [row.finished_at]));
  }

  // What an operator asks (`jobs`, `status`): the queries are in queue-operator.ts.

  list(filter: { state?: QueueJobState; limit?: number } = {}): Promise<QueueJobRecord[]> {
    return listJobs(this.db, filter);
  }

  get(id: number): Promise<QueueJobRecord | null> {
    return getJob(this.db, id);
  }

  /** Queue jobs per repository and state. */
  counts(): Promise<Array<{ repositoryId: number; state: QueueJobState; count: number }>> {
    return countJobs(this.db);
  }

  /** See retryJob (queue-operator.ts). */
  retry(id: number): Promise<boolean> {
    return retryJob(this.db, id, this.#now().toISOString());
  }

  /** See retryMatchingJobs (queue-operator.ts). */
  retryMatching(filter: { readonly states: ReadonlyArray<'dead' | 'done'>; readonly outcome?: RetryableOutcome }): Promise<number[]> {
    return retryMatchingJobs(this.db, filter, this.#now().toISOString());
  }

  #ownRow(job: QueueJob) {
    return ownRow(this.db, job);
  }
}

/** The job's row while this claim holds it (fenced by the claim's token). */
function ownRow(db: Kysely<Schema>, job: QueueJob) {
  return db.updateTable('jobs').where('id', '=', job.id).where('state', '=', 'running').where('locked_by', '=', job.claimToken);
}

function toQueueJob(row: Selectable<JobsTable>): QueueJob {
  return {
    id: row.id,
    type: row.type,
    repositoryId: row.repository_id,
    issueGithubId: row.issue_github_id,
    subjectId: Number(row.subject_id),
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    claimToken: row.locked_by ?? '',
  };
}
