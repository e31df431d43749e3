/**
 * The durable dispatch queue: rows in the same database as the issues, so the
 * poller enqueues inside its sync transaction. Atomic claim with a lease the
 * worker renews while it lives, bounded attempts with backoff, a dead state,
 * and a manual retry. A claim records its owner (instance, host, pid): a job
 * whose owner died on this host is visible again at once, elsewhere when its
 * lease runs out.
 */
import { randomUUID } from 'node:crypto';
import { sql, type ExpressionBuilder, type Kysely, type Selectable } from 'kysely';
import type { DispatchQueue, JobOutcome, QueueJob } from '../../domain/ports.js';
import { processAlive, type InstanceIdentity } from './instances.js';
import type { JobsTable, QueueJobState, Schema } from './schema.js';

/** Outcomes after which an issue is never dispatched again. */
export const HANDLED_OUTCOMES: readonly JobOutcome[] = ['answered', 'already-answered'];

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

export interface QueueJobRecord {
  readonly id: number;
  readonly type: string;
  readonly repository: string;
  readonly issueNumber: number | null;
  readonly issueTitle: string | null;
  readonly issueGithubId: number;
  readonly state: QueueJobState;
  readonly attempts: number;
  readonly maxAttempts: number;
  /** Releases after backend failures on this job alone; dead at the dispatcher's bound. */
  readonly releases: number;
  readonly runAfter: string;
  readonly lockedUntil: string | null;
  readonly lastError: string | null;
  readonly outcome: string | null;
  readonly commentUrl: string | null;
  /** Secrets removed from the comment before it was posted. */
  readonly scrubbed: number;
  readonly payload: unknown;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly finishedAt: string | null;
}

export class SqlJobQueue implements DispatchQueue {
  readonly #now: () => Date;
  readonly #retryDelayMs: number;
  readonly #maxRetryDelayMs: number;
  readonly #owner: InstanceIdentity | undefined;
  readonly #isAlive: (pid: number) => boolean;

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

  async claim(type: string, limit: number, leaseMs: number): Promise<QueueJob[]> {
    await this.#expireDeadOwners();
    const now = this.#now();
    const nowText = now.toISOString();
    const token = randomUUID();
    // One statement: select the visible jobs and take them, so two claimers never
    // get the same row. A running job whose claim expired is visible again.
    // Each kind of visible row is found through its own partial index.
    const pending = this.db
      .selectFrom('jobs')
      .select(['id', 'run_after'])
      .where('type', '=', type)
      .where('state', '=', 'pending')
      .where('run_after', '<=', nowText)
      .orderBy('run_after')
      .orderBy('id')
      .limit(limit);
    const expired = this.db
      .selectFrom('jobs')
      .select(['id', 'run_after'])
      .where('type', '=', type)
      .where('state', '=', 'running')
      .where('locked_until', '<=', nowText)
      .orderBy('locked_until')
      .limit(limit);
    const candidates = this.db
      .selectFrom(pending.as('pending'))
      .selectAll()
      .unionAll(this.db.selectFrom(expired.as('expired')).selectAll());
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

  async complete(job: QueueJob, result: { readonly outcome: JobOutcome; readonly commentUrl?: string; readonly scrubbed?: number }): Promise<void> {
    const now = this.#now().toISOString();
    await this.#ownRow(job)
      .set({
        state: 'done',
        outcome: result.outcome,
        comment_url: result.commentUrl ?? null,
        scrubbed: result.scrubbed ?? 0,
        ...NO_CLAIM,
        last_error: null,
        updated_at: now,
        finished_at: now,
      })
      .execute();
  }

  async release(job: QueueJob, delayMs: number): Promise<void> {
    const now = this.#now();
    await this.#ownRow(job)
      .set((eb) => ({
        state: 'pending',
        attempts: eb('attempts', '-', 1),
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
   * A dead, waiting or unanswered done job (dry-run, not-eligible) gets a fresh
   * set of attempts. Returns false when there is no such job, or when its issue
   * has another live job or was answered since.
   */
  async retry(id: number): Promise<boolean> {
    const now = this.#now().toISOString();
    const result = await this.db
      .updateTable('jobs')
      .set(freshAttempts(now))
      .where('id', '=', id)
      .where((eb) => eb.or([eb('state', 'in', ['dead', 'pending']), eb.and([eb('state', '=', 'done'), eb('outcome', 'in', RETRYABLE_OUTCOMES)])]))
      .where((eb) => eb.or([eb('state', '=', 'pending'), eb.not(eb.exists(liveOrHandledSibling(eb)))]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** When the next pending job of a type becomes visible, or null when none is waiting. */
  async nextVisibleAt(type: string): Promise<Date | null> {
    const row = await this.db
      .selectFrom('jobs')
      .select((eb) => eb.fn.min('run_after').as('next'))
      .where('type', '=', type)
      .where('state', '=', 'pending')
      .executeTakeFirst();
    return row?.next ? new Date(row.next) : null;
  }

  async list(filter: { state?: QueueJobState; limit?: number } = {}): Promise<QueueJobRecord[]> {
    let query = this.#records();
    if (filter.state) query = query.where('jobs.state', '=', filter.state);
    const rows = await query.orderBy('jobs.id', 'desc').limit(filter.limit ?? 100).execute();
    return rows.map(toRecord);
  }

  async get(id: number): Promise<QueueJobRecord | null> {
    const row = await this.#records().where('jobs.id', '=', id).executeTakeFirst();
    return row ? toRecord(row) : null;
  }

  /** Queue jobs per repository and state. */
  async counts(): Promise<Array<{ repositoryId: number; state: QueueJobState; count: number }>> {
    const rows = await this.db
      .selectFrom('jobs')
      .select(['repository_id', 'state', (eb) => eb.fn.countAll<number>().as('count')])
      .groupBy(['repository_id', 'state'])
      .execute();
    return rows.map((r) => ({ repositoryId: r.repository_id, state: r.state, count: Number(r.count) }));
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

  /**
   * Every dead or done job matching the filter (filters combine) gets a fresh
   * set of attempts; returns their ids. Only an issue's latest job is taken, and
   * never one of an issue that has a live job or was answered: answered issues
   * are never answered twice.
   */
  async retryMatching(filter: { readonly states: ReadonlyArray<'dead' | 'done'>; readonly outcome?: RetryableOutcome }): Promise<number[]> {
    const now = this.#now().toISOString();
    let query = this.db
      .updateTable('jobs')
      .set(freshAttempts(now))
      .where('state', 'in', [...filter.states])
      .where((eb) => eb.or([eb('state', '=', 'dead'), eb('outcome', 'in', RETRYABLE_OUTCOMES)]))
      .where((eb) => eb.not(eb.exists(liveOrHandledSibling(eb))))
      .where((eb) =>
        eb(
          'id',
          '=',
          eb
            .selectFrom('jobs as latest')
            .select((latest) => latest.fn.max('latest.id').as('id'))
            .whereRef('latest.issue_github_id', '=', 'jobs.issue_github_id')
            .whereRef('latest.type', '=', 'jobs.type'),
        ),
      );
    if (filter.outcome) query = query.where('outcome', '=', filter.outcome);
    const rows = await query.returning('id').execute();
    return rows.map((row) => row.id).sort((a, b) => a - b);
  }

  #ownRow(job: QueueJob) {
    return this.db.updateTable('jobs').where('id', '=', job.id).where('state', '=', 'running').where('locked_by', '=', job.claimToken);
  }

  #records() {
    return this.db
      .selectFrom('jobs')
      .innerJoin('repositories', 'repositories.id', 'jobs.repository_id')
      .leftJoin('issues', 'issues.github_id', 'jobs.issue_github_id')
      .selectAll('jobs')
      .select([
        sql<string>`repositories.owner || '/' || repositories.name`.as('repository'),
        'issues.number as issue_number',
        'issues.title as issue_title',
      ]);
  }
}

/** The columns of a claim, cleared when a job leaves `running`. */
const NO_CLAIM = { locked_until: null, locked_by: null, owner_instance: null, owner_host: null, owner_pid: null } as const;

/**
 * Done outcomes `jobs retry` takes: the issue was not answered. `backlog` is
 * github.issues.backlog's decision (widen the key instead); answered ones never.
 */
export const RETRYABLE_OUTCOMES = ['dry-run', 'not-eligible'] as const satisfies readonly JobOutcome[];
export type RetryableOutcome = (typeof RETRYABLE_OUTCOMES)[number];

/** Another job of the same issue and type that is live, or that answered it. */
function liveOrHandledSibling(eb: ExpressionBuilder<Schema, 'jobs'>) {
  return eb
    .selectFrom('jobs as sibling')
    .select('sibling.id')
    .whereRef('sibling.issue_github_id', '=', 'jobs.issue_github_id')
    .whereRef('sibling.type', '=', 'jobs.type')
    .whereRef('sibling.id', '!=', 'jobs.id')
    .where((sibling) =>
      sibling.or([
        sibling('sibling.state', 'in', ['pending', 'running']),
        sibling.and([sibling('sibling.state', '=', 'done'), sibling('sibling.outcome', 'in', HANDLED_OUTCOMES)]),
      ]),
    );
}

function freshAttempts(now: string) {
  return { state: 'pending' as const, attempts: 0, releases: 0, run_after: now, ...NO_CLAIM, finished_at: null, updated_at: now };
}

function toQueueJob(row: Selectable<JobsTable>): QueueJob {
  return {
    id: row.id,
    type: row.type,
    repositoryId: row.repository_id,
    issueGithubId: row.issue_github_id,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    claimToken: row.locked_by ?? '',
  };
}

function toRecord(row: Selectable<JobsTable> & { repository: string; issue_number: number | null; issue_title: string | null }): QueueJobRecord {
  let payload: unknown = row.payload;
  try {
    payload = JSON.parse(row.payload);
  } catch {
    // keep the raw text
  }
  return {
    id: row.id,
    type: row.type,
    repository: row.repository,
    issueNumber: row.issue_number,
    issueTitle: row.issue_title,
    issueGithubId: row.issue_github_id,
    state: row.state,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    releases: row.releases,
    runAfter: row.run_after,
    lockedUntil: row.locked_until,
    lastError: row.last_error,
    outcome: row.outcome,
    commentUrl: row.comment_url,
    scrubbed: row.scrubbed,
    payload,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
  };
}
