/**
 * The writes every issue sync makes inside its transaction, shared by the
 * per-repository poller's store (issue-sync.ts) and the scope streams' store
 * (scope-sync.ts): upsert issues, each into its repository, and enqueue the
 * queue jobs they imply (the comment poller's store, comment-sync.ts, enqueues
 * through the same function), with a `revise` job for each answered issue whose
 * title or body was edited.
 */
import type { Transaction } from 'kysely';
import { contentHash } from '../../domain/content-hash.js';
import { ANSWER_JOB, REVISE_JOB } from '../../domain/eligibility.js';
import type { Issue } from '../../domain/entities.js';
import { HANDLED_OUTCOMES, REPEATABLE_TYPES } from './queue-operator.js';
import type { NewIssueRow, Schema } from './schema.js';
import type { StatementCache } from './statement-cache.js';

/** Rows per statement: well under SQLite's bound-parameter limit. */
export const CHUNK = 500;

/** An issue and the repository (our id) it is stored in. */
export interface PlacedIssue {
  readonly repositoryId: number;
  readonly issue: Issue;
}

/** A queue job to enqueue, in its repository. */
export interface PlacedJob {
  readonly type: string;
  readonly issueGithubId: number;
  readonly repositoryId: number;
  /** The comment the job is about; default 0, the issue itself. */
  readonly subjectId?: number;
}

export interface UpsertResult {
  /** GitHub ids of the issues new or changed. */
  readonly changed: Set<number>;
  /** Our ids of the repositories those issues are in. */
  readonly repositories: Set<number>;
  /**
   * The changed issues whose title or body changed: a content hash was stored
   * and differs from the new one (only with `detectEdits`; an issue stored
   * before hashes were, or new, is not an edit). Each with its repository.
   */
  readonly edited: readonly PlacedJobTarget[];
}

/** An issue (GitHub id) and the repository (our id) a job about it goes in. */
export interface PlacedJobTarget {
  readonly issueGithubId: number;
  readonly repositoryId: number;
}

export interface StoreIssuesOptions {
  /** Attempts a new queue job gets (ai.maxAttempts). */
  readonly maxAttempts: number;
  readonly now: string;
  /** github.issues.reanalyze: an edit of an answered issue queues a `revise` job. */
  readonly reanalyze: boolean;
}

/**
 * A sync's issues and jobs, inside its transaction: upserts the issues, then
 * enqueues the requested jobs of those new or changed, and, with `reanalyze`,
 * a `revise` job for each edited issue that was answered. All the jobs go in
 * one enqueue, so every daemon takes them in the same order.
 *
 * Call it after the transaction's first write (its cursor): it reads before it
 * writes, and on SQLite a deferred transaction that has read cannot always
 * become a writer when another connection wrote meanwhile (SQLITE_BUSY at once,
 * the busy timeout notwithstanding). A transaction that wrote first holds the
 * write lock, taken with the busy timeout.
 */
export async function storeIssues(
  trx: Transaction<Schema>,
  statements: StatementCache,
  placed: readonly PlacedIssue[],
  jobs: readonly PlacedJob[],
  options: StoreIssuesOptions,
): Promise<{ readonly changed: Set<number>; readonly repositories: Set<number>; readonly enqueued: number }> {
  const { changed, repositories, edited } = await upsertIssues(trx, statements, placed, options.now, { detectEdits: options.reanalyze });
  const wanted = jobs.filter((job) => changed.has(job.issueGithubId));
  const revisions = options.reanalyze ? await revisionsOf(trx, statements, edited) : [];
  const enqueued = await enqueueJobs(trx, statements, [...wanted, ...revisions], options);
  return { changed, repositories, enqueued };
}

/** Upserts every issue; returns those new or changed, their repositories and (with `detectEdits`) those edited. */
export async function upsertIssues(
  trx: Transaction<Schema>,
  statements: StatementCache,
  placed: readonly PlacedIssue[],
  now: string,
  options: { readonly detectEdits?: boolean } = {},
): Promise<UpsertResult> {
  const changed = new Set<number>();
  const repositories = new Set<number>();
  const edited: PlacedJobTarget[] = [];
  // One row per issue, the last seen winning: a second row for the same id in one
  // statement is an error on PostgreSQL, and the later one is the newer. In id
  // order: an upsert locks each row it meets until the transaction ends, and two
  // daemons storing the same issues (an organisation's stream, a repository's
  // walk) would deadlock taking them in opposite orders.
  const unique = [...new Map(placed.map((p) => [p.issue.githubId, p])).values()].sort((a, b) => a.issue.githubId - b.issue.githubId);
  for (let start = 0; start < unique.length; start += CHUNK) {
    const chunk = unique.slice(start, start + CHUNK);
    const values = chunk.map((p) => toRow(p.repositoryId, p.issue, now));
    // The hashes as stored before this upsert: RETURNING gives only the new row on
    // both engines. A plain read takes no lock, so the upsert below still takes its
    // rows in id order; a row another daemon changes in between is changed by one of
    // the two upserts only (the other finds its updated_at equal), and only that one
    // can count it as edited.
    const before = options.detectEdits ? await storedHashes(trx, statements, chunk.map((p) => p.issue.githubId)) : undefined;
    const build = () =>
      trx
        .insertInto('issues')
        .values(values)
        // Every column, the repository id included: issues move between repositories
        // when transferred, and the original project's stale repository_id bug came
        // from a conflict clause that left it out. A row that did not change is left
        // alone, so RETURNING names exactly the new and changed issues. GitHub's
        // updated_at counts whole seconds: a label, an edit or a closing within the
        // second the row was stored comes back (the listing's since is inclusive) with
        // the same time, so what a change is made of is compared too.
        .onConflict((oc) =>
          oc
            .column('github_id')
            .doUpdateSet((eb) => ({
              repository_id: eb.ref('excluded.repository_id'),
              number: eb.ref('excluded.number'),
              title: eb.ref('excluded.title'),
              body: eb.ref('excluded.body'),
              state: eb.ref('excluded.state'),
              is_pull_request: eb.ref('excluded.is_pull_request'),
              labels: eb.ref('excluded.labels'),
              author: eb.ref('excluded.author'),
              html_url: eb.ref('excluded.html_url'),
              comments_count: eb.ref('excluded.comments_count'),
              created_at: eb.ref('excluded.created_at'),
              updated_at: eb.ref('excluded.updated_at'),
              synced_at: eb.ref('excluded.synced_at'),
              content_hash: eb.ref('excluded.content_hash'),
              author_association: eb.ref('excluded.author_association'),
            }))
            .where((eb) =>
              eb.or([
                eb('issues.updated_at', '!=', eb.ref('excluded.updated_at')),
                eb('issues.repository_id', '!=', eb.ref('excluded.repository_id')),
                eb('issues.number', '!=', eb.ref('excluded.number')),
                eb('issues.content_hash', '!=', eb.ref('excluded.content_hash')),
                eb('issues.labels', '!=', eb.ref('excluded.labels')),
                eb('issues.state', '!=', eb.ref('excluded.state')),
              ]),
            ),
        )
        .returning(['github_id', 'repository_id']);
    const parameters = values.flatMap((row) => ISSUE_COLUMNS.map((column) => row[column]));
    const { rows } = await statements.execute(trx, `issues-upsert:${chunk.length}`, build, parameters);
    const hashes = new Map(values.map((row) => [row.github_id, row.content_hash]));
    for (const row of rows) {
      const githubId = Number(row.github_id);
      changed.add(githubId);
      repositories.add(row.repository_id);
      const was = before?.get(githubId);
      if (was !== undefined && was !== hashes.get(githubId)) edited.push({ issueGithubId: githubId, repositoryId: row.repository_id });
    }
  }
  return { changed, repositories, edited };
}

/** The stored content hashes of these issues (those that have one). */
async function storedHashes(trx: Transaction<Schema>, statements: StatementCache, ids: readonly number[]): Promise<Map<number, string>> {
  const { rows } = await statements.execute(
    trx,
    `issues-hash-select:${ids.length}`,
    () => trx.selectFrom('issues').select(['github_id', 'content_hash']).where('github_id', 'in', ids).where('content_hash', 'is not', null),
    ids,
  );
  return new Map(rows.map((row) => [Number(row.github_id), row.content_hash ?? '']));
}

/**
 * A `revise` job for each edited issue whose `answer` job answered it, or found
 * an answer already there: that may be ours, posted by a daemon killed before it
 * settled the job. The revise flow edits only an answer whose marker carries
 * its hash (ours), so one from another account or build is left alone there.
 * Edits are rare: this reads the queue only when a save holds some.
 */
const ANSWERED = ['answered', 'already-answered'];

async function revisionsOf(trx: Transaction<Schema>, statements: StatementCache, edited: readonly PlacedJobTarget[]): Promise<PlacedJob[]> {
  const revisions: PlacedJob[] = [];
  for (let start = 0; start < edited.length; start += CHUNK) {
    const chunk = edited.slice(start, start + CHUNK);
    const ids = chunk.map((e) => e.issueGithubId);
    const { rows } = await statements.execute(
      trx,
      `answered-select:${ids.length}`,
      () =>
        trx
          .selectFrom('jobs')
          .select('issue_github_id')
          .distinct()
          .where('issue_github_id', 'in', ids)
          .where('type', '=', ANSWER_JOB)
          .where('state', '=', 'done')
          .where('outcome', 'in', ANSWERED),
      [...ids, ANSWER_JOB, 'done', ...ANSWERED],
    );
    const answered = new Set(rows.map((row) => Number(row.issue_github_id)));
    for (const e of chunk) if (answered.has(e.issueGithubId)) revisions.push({ type: REVISE_JOB, ...e });
  }
  return revisions;
}

/**
 * New pending jobs, except those already handled: an issue (or, for a job about
 * a comment, that comment) whose job of the same type ended answered or
 * already-answered; a revise job is never handled for good (the next edit asks
 * again). A live job of the same issue, type and subject absorbs the request.
 */
export async function enqueueJobs(
  trx: Transaction<Schema>,
  statements: StatementCache,
  jobs: readonly PlacedJob[],
  options: { readonly maxAttempts: number; readonly now: string },
): Promise<number> {
  const { maxAttempts, now } = options;
  // In one order whoever enqueues, as the issues are upserted: a second daemon
  // inserting the same live job waits for the first, never in a cycle.
  const ordered = [...jobs].sort(
    (a, b) => a.issueGithubId - b.issueGithubId || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0) || (a.subjectId ?? 0) - (b.subjectId ?? 0),
  );
  const key = (type: string, issueGithubId: number, subjectId: number) => `${type}:${issueGithubId}:${subjectId}`;
  let enqueued = 0;
  for (let start = 0; start < ordered.length; start += CHUNK) {
    const chunk = ordered.slice(start, start + CHUNK);
    const ids = [...new Set(chunk.map((j) => j.issueGithubId))];
    const { rows: handled } = await statements.execute(
      trx,
      `handled-select:${ids.length}`,
      () =>
        trx
          .selectFrom('jobs')
          .select(['issue_github_id', 'type', 'subject_id'])
          .where('issue_github_id', 'in', ids)
          .where('state', '=', 'done')
          .where('outcome', 'in', HANDLED_OUTCOMES),
      [...ids, 'done', ...HANDLED_OUTCOMES],
    );
    const skip = new Set(
      handled.filter((row) => !REPEATABLE_TYPES.includes(row.type)).map((row) => key(row.type, Number(row.issue_github_id), Number(row.subject_id))),
    );
    const rows = chunk
      .filter((job) => !skip.has(key(job.type, job.issueGithubId, job.subjectId ?? 0)))
      .map((job) => ({
        type: job.type,
        repository_id: job.repositoryId,
        issue_github_id: job.issueGithubId,
        subject_id: job.subjectId ?? 0,
        state: 'pending' as const,
        attempts: 0,
        max_attempts: maxAttempts,
        run_after: now,
        payload: '{}',
        created_at: now,
        updated_at: now,
      }));
    if (rows.length === 0) continue;
    // The partial unique index allows one live job per issue, type and subject:
    // a conflicting insert is the coalescing, not an error.
    const build = () => trx.insertInto('jobs').values(rows).onConflict((oc) => oc.doNothing());
    const parameters = rows.flatMap((row) => JOB_COLUMNS.map((column) => row[column]));
    const result = await statements.execute(trx, `jobs-insert:${rows.length}`, build, parameters);
    enqueued += Number(result.numAffectedRows ?? 0);
  }
  return enqueued;
}

/** Column order of toRow(): the order Kysely binds the values in. */
const ISSUE_COLUMNS = [
  'github_id', 'repository_id', 'number', 'title', 'body', 'state', 'is_pull_request',
  'labels', 'author', 'html_url', 'comments_count', 'created_at', 'updated_at', 'synced_at', 'content_hash', 'author_association',
] as const satisfies ReadonlyArray<keyof NewIssueRow>;

const JOB_COLUMNS = [
  'type', 'repository_id', 'issue_github_id', 'subject_id', 'state', 'attempts', 'max_attempts', 'run_after', 'payload', 'created_at', 'updated_at',
] as const;

function toRow(repositoryId: number, issue: Issue, now: string): NewIssueRow & { content_hash: string } {
  return {
    github_id: issue.githubId,
    repository_id: repositoryId,
    number: issue.number,
    title: issue.title,
    body: issue.body,
    state: issue.state,
    is_pull_request: issue.isPullRequest ? 1 : 0,
    labels: JSON.stringify(issue.labels),
    author: issue.author,
    html_url: issue.htmlUrl,
    comments_count: issue.commentsCount,
    created_at: issue.createdAt,
    updated_at: issue.updatedAt,
    synced_at: now,
    content_hash: contentHash(issue),
    author_association: issue.authorAssociation ?? null,
  };
}
