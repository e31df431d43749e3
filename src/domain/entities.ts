/** The entities autosolve works with, independent of GitHub's wire format. */

/** The unit of work: one repository, as a task receives it. */
export interface Partition {
  readonly owner: string;
  readonly name: string;
  /** Our database id for the repository, set by the repository validator. */
  readonly repositoryId: number;
}

export interface RepositoryRef {
  readonly owner: string;
  readonly name: string;
}

export function fullName(repo: RepositoryRef): string {
  return `${repo.owner}/${repo.name}`;
}

/** A repository as GitHub describes it. */
export interface RemoteRepository {
  readonly githubId: number;
  readonly owner: string;
  readonly name: string;
  readonly private: boolean;
  readonly htmlUrl: string;
}

export type IssueState = 'open' | 'closed';

/** An issue (or pull request) as GitHub describes it. */
export interface Issue {
  readonly githubId: number;
  readonly number: number;
  readonly title: string;
  readonly body: string | null;
  readonly state: IssueState;
  readonly isPullRequest: boolean;
  readonly labels: readonly string[];
  readonly author: string | null;
  readonly htmlUrl: string;
  readonly commentsCount: number;
  /** The author's association with the repository (OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, NONE, ...); absent where unknown. */
  readonly authorAssociation?: string;
  /** Locked conversation, as GitHub gives it; absent where unknown (issues read back from the store). */
  readonly locked?: boolean;
  /** ISO 8601, as GitHub gives it. */
  readonly createdAt: string;
  /** ISO 8601, as GitHub gives it. */
  readonly updatedAt: string;
}

export interface Comment {
  readonly githubId: number;
  readonly body: string;
  readonly author: string | null;
  readonly htmlUrl: string;
  readonly createdAt: string;
  readonly updatedAt: string;
  /** The author's association with the repository (OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, NONE, ...); absent where unknown. */
  readonly authorAssociation?: string;
  /** The author is an app or a bot (`user.type` Bot, or a `[bot]` login); absent where unknown. */
  readonly authorIsBot?: boolean;
}

/** A comment as a repository's comment listing gives it, with the number of the issue (or pull request) it is on. */
export interface RepositoryComment extends Comment {
  readonly issueNumber: number;
}

/**
 * Where an issue poller resumes: list issues updated at or after `since`
 * (null: from the beginning), starting at `page`, conditionally on `etag`.
 */
export interface SyncCursor {
  readonly since: string | null;
  readonly page: number;
  readonly etag: string | null;
}

export const INITIAL_CURSOR: SyncCursor = { since: null, page: 1, etag: null };

/** The marker every autosolve comment carries, shared with the Go autosolve. */
export const COMMENT_MARKER = '<!-- autosolve -->';
