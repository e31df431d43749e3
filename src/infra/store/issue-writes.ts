/**
 * The two writes every issue sync makes inside its transaction, shared by the
 * per-repository poller's store (issue-sync.ts) and the scope streams' store
 * (scope-sync.ts): upsert issues, each into its repository, and enqueue the
 * queue jobs they imply.
 */
import type { Transaction } from 'kysely';
import type { Issue } from '../../domain/entities.js';
import { HANDLED_OUTCOMES } from './queue-operator.js';
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
}

export interface UpsertResult {
  /** GitHub ids of the issues new or changed. */
  readonly changed: Set<number>;
  /** Our ids of the repositories those issues are in. */
  readonly repositories: Set<number>;
}

/** Upserts every issue; returns those new or changed and their repositories. */
export async function upsertIssues(
  trx: Transaction<Schema>,
  statements: StatementCache,
  placed: readonly PlacedIssue[],
  now: string,
): Promise<UpsertResult> {
  const changed = new Set<number>();
  const repositories = new Set<number>();
  // One row per issue, the last seen winning: a second row for the same id in one
  // statement is an error on PostgreSQL, and the later one is the newer. In id
  // order: an upsert locks each row it meets until the transaction ends, and two
  // daemons storing the same issues (an organisation's stream, a repository's
  // walk) would deadlock taking them in opposite orders.
  const unique = [...new Map(placed.map((p) => [p.issue.githubId, p])).values()].sort((a, b) => a.issue.githubId - b.issue.githubId);
  for (let start = 0; start < unique.length; start += CHUNK) {
    const chunk = unique.slice(start, start + CHUNK);
    const values = chunk.map((p) => toRow(p.repositoryId, p.issue, now));
    const build = () =>
      trx
        .insertInto('issues')
        .values(values)
        // Every column, the repository id included: issues move between repositories
        // when transferred, and the original project's stale repository_id bug came
        // from a conflict clause that left it out. A row that did not change is left
        // alone, so RETURNING names exactly the new and changed issues.
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
            }))
            .where((eb) =>
              eb.or([
                eb('issues.updated_at', '!=', eb.ref('excluded.updated_at')),
                eb('issues.repository_id', '!=', eb.ref('excluded.repository_id')),
                eb('issues.number', '!=', eb.ref('excluded.number')),
              ]),
            ),
        )
        .returning(['github_id', 'repository_id']);
    const parameters = values.flatMap((row) => ISSUE_COLUMNS.map((column) => row[column]));
    const { rows } = await statements.execute(trx, `issues-upsert:${chunk.length}`, build, parameters);
    for (const row of rows) {
      changed.add(Number(row.github_id));
      repositories.add(row.repository_id);
    }
  }
  return { changed, repositories };
}

/** New pending jobs, except for issues already handled; a live job absorbs the request. */
export async function enqueueJobs(
  trx: Transaction<Schema>,
  statements: StatementCache,
  jobs: readonly PlacedJob[],
  options: { readonly maxAttempts: number; readonly now: string },
): Promise<number> {
  const { maxAttempts, now } = options;
  // In one order whoever enqueues, as the issues are upserted: a second daemon
  // inserting the same live job waits for the first, never in a cycle.
  const ordered = [...jobs].sort((a, b) => a.issueGithubId - b.issueGithubId || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  let enqueued = 0;
  for (let start = 0; start < ordered.length; start += CHUNK) {
    const chunk = ordered.slice(start, start + CHUNK);
    const ids = chunk.map((j) => j.issueGithubId);
    const { rows: handled } = await statements.execute(
      trx,
      `handled-select:${ids.length}`,
      () =>
        trx
          .selectFrom('jobs')
          .select(['issue_github_id', 'type'])
          .where('issue_github_id', 'in', ids)
          .where('state', '=', 'done')
          .where('outcome', 'in', HANDLED_OUTCOMES),
      [...ids, 'done', ...HANDLED_OUTCOMES],
    );
    const skip = new Set(handled.map((row) => `${row.type}:${row.issue_github_id}`));
    const rows = chunk
      .filter((job) => !skip.has(`${job.type}:${job.issueGithubId}`))
      .map((job) => ({
        type: job.type,
        repository_id: job.repositoryId,
        issue_github_id: job.issueGithubId,
        state: 'pending' as const,
        attempts: 0,
        max_attempts: maxAttempts,
        run_after: now,
        payload: '{}',
        created_at: now,
        updated_at: now,
      }));
    if (rows.length === 0) continue;
    // The partial unique index allows one live job per issue and type: a
    // conflicting insert is the coalescing, not an error.
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
  'labels', 'author', 'html_url', 'comments_count', 'created_at', 'updated_at', 'synced_at',
] as const satisfies ReadonlyArray<keyof NewIssueRow>;

const JOB_COLUMNS = [
  'type', 'repository_id', 'issue_github_id', 'state', 'attempts', 'max_attempts', 'run_after', 'payload', 'created_at', 'updated_at',
] as const;

function toRow(repositoryId: number, issue: Issue, now: string): NewIssueRow {
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
  };
}
