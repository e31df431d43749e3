/** The simulator's in-memory model of repositories, issues and comments, and the mutations on it. */
import type { SimComment, SimCommentInput, SimIssue, SimIssueInput, SimRepository } from './types.js';

export interface RepositoryRecord {
  id: number;
  owner: string;
  name: string;
  private: boolean;
  createdAt: string;
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
  createdAt: string;
  updatedAt: string;
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

function repoKey(owner: string, name: string): string {
  // GitHub resolves owner and repository names case-insensitively.
  return `${owner}/${name}`.toLowerCase();
}

/** A stable, GitHub-looking colour per label name, so payloads do not change between runs. */
function labelColor(name: string): string {
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return (hash & 0xffffff).toString(16).padStart(6, '0');
}

export class SimulatorState {
  private readonly repositories = new Map<string, RepositoryRecord>();
  private readonly issuesById = new Map<number, IssueRecord>();
  private readonly commentsById = new Map<number, CommentRecord>();
  /** 'owner/name#number' of a transferred issue → the issue's id, for 301 answers at the old URL. */
  private readonly transferred = new Map<string, number>();
  private readonly userIds = new Map<string, number>();
  private nextRepositoryId = 100_001;
  private nextIssueId = 1_000_000_001;
  private nextCommentId = 2_000_000_001;
  private nextLabelId = 3_000_000_001;

  /** When the simulator started: the authenticated user's created_at. */
  readonly startedAt: string;

  constructor(private readonly now: () => number) {
    this.startedAt = this.nowIso();
  }

  nowIso(): string {
    return isoSeconds(this.now());
  }

  /** A stable numeric id per login; 1 is the authenticated simulator user. */
  userId(login: string): number {
    let id = this.userIds.get(login);
    if (id === undefined) {
      id = login === SIM_USER ? 1 : 10_000 + this.userIds.size;
      this.userIds.set(login, id);
    }
    return id;
  }

  addRepository(input: { owner: string; name: string; private?: boolean }): SimRepository {
    const key = repoKey(input.owner, input.name);
    if (this.repositories.has(key)) throw new Error(`repository ${input.owner}/${input.name} already exists`);
    const record: RepositoryRecord = {
      id: this.nextRepositoryId++,
      owner: input.owner,
      name: input.name,
      private: input.private ?? false,
      createdAt: this.nowIso(),
      nextNumber: 1,
      issues: new Map(),
      labels: new Map(),
    };
    this.repositories.set(key, record);
    return toSimRepository(record);
  }

  findRepository(owner: string, name: string): RepositoryRecord | undefined {
    return this.repositories.get(repoKey(owner, name));
  }

  repository(owner: string, name: string): RepositoryRecord {
    const record = this.findRepository(owner, name);
    if (!record) throw new Error(`unknown repository ${owner}/${name}`);
    return record;
  }

  addIssue(owner: string, name: string, input: SimIssueInput): SimIssue {
    const repository = this.repository(owner, name);
    const createdMs = input.createdAt === undefined ? this.now() : parseTimestamp(input.createdAt, 'createdAt');
    const createdAt = isoSeconds(createdMs);
    const issue: IssueRecord = {
      id: this.nextIssueId++,
      repository,
      number: repository.nextNumber++,
      title: input.title,
      body: input.body ?? null,
      labels: [],
      user: input.user ?? 'octocat',
      state: input.state ?? 'open',
      pullRequest: input.pullRequest ?? false,
      createdAt,
      updatedAt: createdAt,
      closedAt: null,
      comments: [],
    };
    this.setLabels(issue, input.labels ?? []);
    this.issuesById.set(issue.id, issue);
    repository.issues.set(issue.number, issue);
    for (const comment of input.comments ?? []) this.appendComment(issue, comment);
    if (input.updatedAt !== undefined) issue.updatedAt = isoSeconds(parseTimestamp(input.updatedAt, 'updatedAt'));
    if (issue.state === 'closed') issue.closedAt = issue.updatedAt;
    return toSimIssue(issue);
  }

  findIssue(repository: RepositoryRecord, number: number): IssueRecord | undefined {
    return repository.issues.get(number);
  }

  issue(owner: string, name: string, number: number): IssueRecord {
    const issue = this.findIssue(this.repository(owner, name), number);
    if (!issue) throw new Error(`unknown issue ${owner}/${name}#${number}`);
    return issue;
  }

  /** Where a transferred issue lives now, for the old repository and number. */
  transferredIssue(repository: RepositoryRecord, number: number): IssueRecord | undefined {
    const id = this.transferred.get(`${repoKey(repository.owner, repository.name)}#${number}`);
    return id === undefined ? undefined : this.issuesById.get(id);
  }

  updateIssue(
    owner: string,
    name: string,
    number: number,
    patch: Partial<Pick<SimIssueInput, 'title' | 'body' | 'labels' | 'state'>>,
  ): SimIssue {
    const issue = this.issue(owner, name, number);
    const now = this.nowIso();
    if (patch.title !== undefined) issue.title = patch.title;
    if (patch.body !== undefined) issue.body = patch.body;
    if (patch.labels !== undefined) this.setLabels(issue, patch.labels);
    if (patch.state !== undefined && patch.state !== issue.state) {
      issue.state = patch.state;
      issue.closedAt = patch.state === 'closed' ? now : null;
    }
    issue.updatedAt = now;
    return toSimIssue(issue);
  }

  addComment(owner: string, name: string, number: number, input: SimCommentInput): SimComment {
    return toSimComment(this.appendComment(this.issue(owner, name, number), input));
  }

  /** A new comment moves the issue's updated_at to the comment's time (never backwards). */
  appendComment(issue: IssueRecord, input: SimCommentInput): CommentRecord {
    const createdMs = input.createdAt === undefined ? this.now() : parseTimestamp(input.createdAt, 'createdAt');
    const createdAt = isoSeconds(createdMs);
    const comment: CommentRecord = {
      id: this.nextCommentId++,
      issue,
      body: input.body,
      user: input.user ?? SIM_USER,
      createdAt,
      updatedAt: createdAt,
    };
    issue.comments.push(comment);
    this.commentsById.set(comment.id, comment);
    if (Date.parse(createdAt) > Date.parse(issue.updatedAt)) issue.updatedAt = createdAt;
    return comment;
  }

  findComment(repository: RepositoryRecord, id: number): CommentRecord | undefined {
    const comment = this.commentsById.get(id);
    return comment && comment.issue.repository === repository ? comment : undefined;
  }

  /** Editing a comment changes its own updated_at, not the issue's. */
  editComment(comment: CommentRecord, body: string): CommentRecord {
    comment.body = body;
    comment.updatedAt = this.nowIso();
    return comment;
  }

  transferIssue(fromOwner: string, fromName: string, number: number, toOwner: string, toName: string): SimIssue {
    const issue = this.issue(fromOwner, fromName, number);
    const target = this.repository(toOwner, toName);
    this.transferred.set(`${repoKey(fromOwner, fromName)}#${number}`, issue.id);
    issue.repository.issues.delete(issue.number);
    issue.repository = target;
    issue.number = target.nextNumber++;
    target.issues.set(issue.number, issue);
    this.setLabels(issue, issue.labels);
    issue.updatedAt = this.nowIso();
    return toSimIssue(issue);
  }

  issuesOf(repository: RepositoryRecord): IssueRecord[] {
    return [...repository.issues.values()];
  }

  issues(owner: string, name: string): SimIssue[] {
    return this.issuesOf(this.repository(owner, name))
      .sort((a, b) => a.number - b.number)
      .map(toSimIssue);
  }

  comments(owner: string, name: string, number: number): SimComment[] {
    return this.issue(owner, name, number).comments.map(toSimComment);
  }

  labelOf(repository: RepositoryRecord, name: string): LabelRecord {
    const label = repository.labels.get(name.toLowerCase());
    if (label) return label;
    const created = { id: this.nextLabelId++, name, color: labelColor(name), description: null };
    repository.labels.set(name.toLowerCase(), created);
    return created;
  }

  private setLabels(issue: IssueRecord, names: string[]): void {
    // Labels are repository objects on GitHub; using a name creates it, and the repository's spelling wins.
    const unique = new Map<string, string>();
    for (const name of names) unique.set(name.toLowerCase(), this.labelOf(issue.repository, name).name);
    issue.labels = [...unique.values()];
  }
}

/** The login of the user every accepted token belongs to (id 1, as in the rate-limit message). */
export const SIM_USER = 'sim-user';

export function toSimRepository(record: RepositoryRecord): SimRepository {
  return { id: record.id, owner: record.owner, name: record.name, private: record.private };
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
    createdAt: comment.createdAt,
    updatedAt: comment.updatedAt,
  };
}
