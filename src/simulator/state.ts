/** The simulator's in-memory model of repositories, issues and comments, and the mutations on it. */
import {
  type CommentRecord,
  defaultAssociation,
  type IssueRecord,
  isoSeconds,
  type LabelRecord,
  parseTimestamp,
  type ReactionRecord,
  type RepositoryRecord,
  SIM_USER,
  toSimComment,
  toSimIssue,
  toSimReaction,
  toSimRepository,
} from './records.js';
import { ScopeIndex, type ScopeSort } from './scope-index.js';
import type { SimComment, SimCommentInput, SimIssue, SimIssueInput, SimReaction, SimRepository, SimRepositoryInput } from './types.js';

export {
  type CommentRecord,
  type IssueRecord,
  isoSeconds,
  type LabelRecord,
  parseTimestamp,
  type ReactionRecord,
  type RepositoryRecord,
  SIM_USER,
} from './records.js';

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
  private nextReactionId = 4_000_000_001;
  /** Issue ids the organisation and user issue listings leave out (a stream that misses an update). */
  private readonly hiddenFromScopes = new Set<number>();
  private readonly scopeIndex = new ScopeIndex(() => this.issuesById.values());
  /** Bumped by every change a listing can see, so cached orderings know when to rebuild. */
  private changes = 0;

  /** When the simulator started: the authenticated user's created_at. */
  readonly startedAt: string;

  constructor(readonly now: () => number) {
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

  addRepository(input: SimRepositoryInput): SimRepository {
    return toSimRepository(this.createRepository(input));
  }

  /** Adds a repository and returns the record itself (the generator seeds thousands without copies). */
  createRepository(input: SimRepositoryInput): RepositoryRecord {
    const key = repoKey(input.owner, input.name);
    if (this.repositories.has(key)) throw new Error(`repository ${input.owner}/${input.name} already exists`);
    const createdAt = input.createdAt === undefined ? this.nowIso() : isoSeconds(parseTimestamp(input.createdAt, 'createdAt'));
    const record: RepositoryRecord = {
      id: this.nextRepositoryId++,
      owner: input.owner,
      name: input.name,
      private: input.private ?? false,
      archived: input.archived ?? false,
      topics: input.topics ?? NO_TOPICS,
      createdAt,
      updatedAt: createdAt,
      nextNumber: 1,
      issues: new Map(),
      labels: new Map(),
    };
    this.repositories.set(key, record);
    this.changes++;
    return record;
  }

  /** Deletes a repository with its issues and comments: it answers 404 and leaves every listing. */
  removeRepository(owner: string, name: string): void {
    const record = this.repository(owner, name);
    for (const issue of record.issues.values()) {
      this.issuesById.delete(issue.id);
      for (const comment of issue.comments) this.commentsById.delete(comment.id);
    }
    this.repositories.delete(repoKey(owner, name));
    this.changes++;
  }

  archiveRepository(owner: string, name: string, archived: boolean): SimRepository {
    const record = this.repository(owner, name);
    if (record.archived !== archived) {
      record.archived = archived;
      record.updatedAt = this.nowIso();
      this.changes++;
    }
    return toSimRepository(record);
  }

  /** Every repository of one owner (case-insensitive), in creation order. */
  repositoriesOf(owner: string): RepositoryRecord[] {
    const wanted = owner.toLowerCase();
    return [...this.repositories.values()].filter((repository) => repository.owner.toLowerCase() === wanted);
  }

  hideFromScopeListings(owner: string, name: string, number: number): void {
    this.hiddenFromScopes.add(this.issue(owner, name, number).id);
  }

  isHiddenFromScopes(issue: IssueRecord): boolean {
    return this.hiddenFromScopes.size > 0 && this.hiddenFromScopes.has(issue.id);
  }

  /** Issues and pull requests of one owner (or of every repository: null), ascending by `sort`, then id. */
  scopeIssues(owner: string | null, sort: ScopeSort): readonly IssueRecord[] {
    return this.scopeIndex.sorted(owner, sort, this.changes);
  }

  /** Marks a change made outside these methods (a route editing a record). */
  touched(): void {
    this.changes++;
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
    const user = input.user ?? 'octocat';
    const issue: IssueRecord = {
      id: this.nextIssueId++,
      repository,
      number: repository.nextNumber++,
      title: input.title,
      body: input.body ?? null,
      labels: [],
      user,
      authorAssociation: input.authorAssociation ?? defaultAssociation(repository, user),
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
    this.changes++;
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
    this.changes++;
    return toSimIssue(issue);
  }

  addComment(owner: string, name: string, number: number, input: SimCommentInput): SimComment {
    return toSimComment(this.appendComment(this.issue(owner, name, number), input));
  }

  /** A new comment moves the issue's updated_at to the comment's creation time (never backwards). */
  appendComment(issue: IssueRecord, input: SimCommentInput): CommentRecord {
    const createdMs = input.createdAt === undefined ? this.now() : parseTimestamp(input.createdAt, 'createdAt');
    const createdAt = isoSeconds(createdMs);
    const updatedAt = input.updatedAt === undefined ? createdAt : isoSeconds(parseTimestamp(input.updatedAt, 'updatedAt'));
    if (updatedAt < createdAt) throw new Error(`updatedAt: ${updatedAt} is before createdAt ${createdAt}`);
    const user = commentLogin(input);
    const comment: CommentRecord = {
      id: this.nextCommentId++,
      issue,
      body: input.body,
      user,
      authorAssociation: input.authorAssociation ?? defaultAssociation(issue.repository, user),
      createdAt,
      updatedAt,
      reactions: [],
    };
    issue.comments.push(comment);
    this.commentsById.set(comment.id, comment);
    if (Date.parse(createdAt) > Date.parse(issue.updatedAt)) issue.updatedAt = createdAt;
    this.changes++;
    return comment;
  }

  findComment(repository: RepositoryRecord, id: number): CommentRecord | undefined {
    const comment = this.commentsById.get(id);
    return comment && comment.issue.repository === repository ? comment : undefined;
  }

  /** The repository's comment, for the test controls; throws naming it when there is none. */
  comment(owner: string, name: string, id: number): CommentRecord {
    const comment = this.findComment(this.repository(owner, name), id);
    if (!comment) throw new Error(`unknown comment ${id} of ${owner}/${name}`);
    return comment;
  }

  /**
   * Editing a comment changes its own updated_at, not the issue's: GitHub does not document either way, and
   * this is the harder case for a poller (only the comment listing shows the edit).
   */
  editComment(comment: CommentRecord, body: string): CommentRecord {
    comment.body = body;
    comment.updatedAt = this.nowIso();
    return comment;
  }

  /**
   * A user's reaction to a comment: `created` false when that user already reacted with that content (the
   * existing reaction is returned). Reacting does not edit the comment: its updated_at stays.
   */
  react(comment: CommentRecord, user: string, content: string): { reaction: ReactionRecord; created: boolean } {
    const existing = comment.reactions.find((reaction) => reaction.user === user && reaction.content === content);
    if (existing) return { reaction: existing, created: false };
    const reaction: ReactionRecord = { id: this.nextReactionId++, content, user, createdAt: this.nowIso() };
    comment.reactions.push(reaction);
    return { reaction, created: true };
  }

  reactions(owner: string, name: string, id: number): SimReaction[] {
    return this.comment(owner, name, id).reactions.map(toSimReaction);
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
    this.changes++;
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

const NO_TOPICS: readonly string[] = Object.freeze([]);

/** The login a comment is written under: a bot's carries GitHub's `[bot]` suffix. */
function commentLogin(input: SimCommentInput): string {
  if (input.bot !== true) return input.user ?? SIM_USER;
  const login = input.user ?? 'github-actions';
  return login.endsWith('[bot]') ? login : `${login}[bot]`;
}
