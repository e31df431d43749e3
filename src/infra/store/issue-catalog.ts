/** Issues as last synced (the author's association included, for rules), for the dispatcher. */
import type { Kysely, Selectable } from 'kysely';
import type { Issue } from '../../domain/entities.js';
import type { IssueCatalog, IssueRecord } from '../../domain/ports.js';
import type { IssuesTable, Schema } from './schema.js';

export class SqlIssueCatalog implements IssueCatalog {
  constructor(private readonly db: Kysely<Schema>) {}

  async find(issueGithubId: number): Promise<IssueRecord | undefined> {
    const row = await this.db
      .selectFrom('issues')
      .innerJoin('repositories', 'repositories.id', 'issues.repository_id')
      .selectAll('issues')
      .select(['repositories.owner', 'repositories.name'])
      .where('issues.github_id', '=', issueGithubId)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      repository: { owner: row.owner, name: row.name },
      issue: issueOfRow(row),
    };
  }

  /** The GitHub id of the issue (or pull request) stored with this number in the repository; undefined when there is none. */
  async idOf(repositoryId: number, number: number): Promise<number | undefined> {
    const row = await this.db
      .selectFrom('issues')
      .select('github_id')
      .where('repository_id', '=', repositoryId)
      .where('number', '=', number)
      .executeTakeFirst();
    return row === undefined ? undefined : Number(row.github_id);
  }
}

/** A stored issue row as the domain's Issue (labels are stored as JSON). */
export function issueOfRow(row: Selectable<IssuesTable>): Issue {
  return {
    githubId: row.github_id,
    number: row.number,
    title: row.title,
    body: row.body,
    state: row.state === 'closed' ? 'closed' : 'open',
    isPullRequest: row.is_pull_request === 1,
    labels: JSON.parse(row.labels) as string[],
    author: row.author,
    htmlUrl: row.html_url,
    commentsCount: row.comments_count,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    ...(row.author_association === null ? {} : { authorAssociation: row.author_association }),
  };
}
