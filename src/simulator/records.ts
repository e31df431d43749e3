/** The simulator's records (what its state holds), the times they carry, and their public copies. */
import type {
  SimAuthorAssociation,
  SimComment,
  SimIssue,
  SimReaction,
  SimRepository,
} from './types.js';

export interface RepositoryRecord {
  id: number;
  owner: string;
  name: string;
  private: boolean;
  archived: boolean;
  /** Shared, never mutated in place: generated repositories all point at one array. */
  topics: readonly string[];
  createdAt: string;
  /** Moves when the repository itself changes (archived), as GitHub's updated_at does. */
  updatedAt: string;
  nextNumber: number;
  issues: Map<number, IssueRecord>;
  /** Keyed by lower-cased name, as GitHub label names are case-insensitive. */
  labels: Map<string, LabelRecord>;
}

export interface LabelRecord {
  id: number;
  name: string;
  color: string;
  description: string | null;
}

export interface IssueRecord {
  id: number;
  repository: RepositoryRecord;
  number: number;
  title: string;
  body: string | null;
  labels: string[];
  user: string;
  authorAssociation: SimAuthorAssociation;
  state: 'open' | 'closed';
  pullRequest: boolean;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  comments: CommentRecord[];
}

export interface CommentRecord {
  id: number;
  issue: IssueRecord;
  body: string;
  user: string;
  authorAssociation: SimAuthorAssociation;
  createdAt: string;
  updatedAt: string;
  /** Oldest first; one per (user, content), as on GitHub. */
  reactions: ReactionRecord[];
}

export interface ReactionRecord {
  id: number;
  content: string;
  user: string;
  createdAt: string;
}

/** The login of the user every accepted token belongs to (id 1, as in the rate-limit message). */
export const SIM_USER = 'sim-user';

/** GitHub marks an app's account by a `[bot]` suffix on its login, and `user.type` Bot. */
export function isBotLogin(login: string): boolean {
  return login.endsWith('[bot]');
}

/**
 * What GitHub would say of an author who was not given one: the repository's owner is OWNER, the token's
 * user a MEMBER of the organisation (it has push access), anybody else NONE.
 */
export function defaultAssociation(repository: RepositoryRecord, login: string): SimAuthorAssociation {
  if (login.toLowerCase() === repository.owner.toLowerCase()) return 'OWNER';
  return login === SIM_USER ? 'MEMBER' : 'NONE';
}

/** ISO 8601 at second resolution, as GitHub writes timestamps: 2026-01-02T03:04:05Z. */
export function isoSeconds(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Parses an ISO 8601 timestamp; throws naming the field when it is not one. */
export function parseTimestamp(value: string, field: string): number {
  const ms = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(ms)) {
    throw new Error(`${field}: not an ISO 8601 timestamp: ${JSON.stringify(value)}`);
  }
  return ms;
}

export function toSimRepository(record: RepositoryRecord): SimRepository {
  return {
    id: record.id,
    owner: record.owner,
    name: record.name,
    private: record.private,
    archived: record.archived,
    topics: [...record.topics],
  };
}

export function toSimIssue(issue: IssueRecord): SimIssue {
  return {
    id: issue.id,
    number: issue.number,
    owner: issue.repository.owner,
    repo: issue.repository.name,
    title: issue.title,
    body: issue.body,
    labels: [...issue.labels],
    user: issue.user,
    authorAssociation: issue.authorAssociation,
    state: issue.state,
    pullRequest: issue.pullRequest,
    comments: issue.comments.length,
    createdAt: issue.createdAt,
    updatedAt: issue.updatedAt,
    closedAt: issue.closedAt,
  };
}

export function toSimComment(comment: CommentRecord): SimComment {
  return {
    id: comment.id,
    issueNumber: comment.issue.number,
    body: comment.body,
    user: comment.user,
    authorAssociation: comment.authorAssociation,
    bot: isBotLogin(comment.user),
    createdAt: comment.createdAt,
    updatedAt: comment.updatedAt,
  };
}

export function toSimReaction(reaction: ReactionRecord): SimReaction {
  return { id: reaction.id, content: reaction.content, user: reaction.user, createdAt: reaction.createdAt };
}
