/**
 * GitHub's JSON → our entities. Nothing past src/infra/github/ sees GitHub's
 * wire format or Octokit's types. Only the fields we use are checked, so
 * GitHub adding fields never breaks us; a missing or mistyped field we rely on
 * is an error that names it.
 */
import { z } from 'zod';
import type { Comment, Issue, RemoteRepository, RepositoryComment } from '../../domain/entities.js';
import type { SkippedComment, SkippedIssue } from '../../domain/ports.js';
import type { DiscoveredRepository, ScopedIssue } from '../../domain/fleet/types.js';

/** `type` is `User`, `Bot` or `Organization`; only a bot matters to us. */
const userSchema = z.object({ login: z.string(), type: z.string().optional() }).nullish();

/** OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, NONE, ...: kept as GitHub spells it, so a value it adds later passes through. */
const associationSchema = z.string().optional();

const repositorySchema = z.object({
  id: z.number(),
  name: z.string(),
  owner: z.object({ login: z.string() }),
  private: z.boolean(),
  html_url: z.string(),
});

// GitHub documents labels as objects, but its schema also allows bare strings.
const labelSchema = z.union([z.string(), z.object({ name: z.string() })]);

/** GitHub's timestamps: ISO 8601 with a zone (`2011-04-22T13:33:48Z`). */
const timestamp = z.iso.datetime({ offset: true });
const positiveInteger = z.number().int().positive();

const issueSchema = z
  .object({
    id: positiveInteger,
    // Nothing may ever be posted to issue 0 or -1: such a number is a malformed item.
    number: positiveInteger,
    title: z.string(),
    body: z.string().nullish(),
    state: z.enum(['open', 'closed']),
    labels: z.array(labelSchema).default([]),
    user: userSchema,
    html_url: z.string(),
    comments: z.number().int().nonnegative().default(0),
    locked: z.boolean().nullish(),
    author_association: associationSchema,
    created_at: timestamp,
    updated_at: timestamp,
    pull_request: z.unknown().optional(),
  })
  .refine((issue) => Date.parse(issue.updated_at) >= Date.parse(issue.created_at), {
    message: 'updated_at is before created_at',
    path: ['updated_at'],
  });

/** What can still be read from an item that failed validation, to name it and keep the walk's place. */
const looseIssueSchema = z.object({
  id: z.unknown(),
  number: z.unknown(),
  updated_at: z.unknown(),
});

const commentSchema = z.object({
  id: z.number(),
  body: z.string().nullish(),
  user: userSchema,
  html_url: z.string(),
  author_association: associationSchema,
  created_at: z.string(),
  updated_at: z.string(),
});

/** The issue (or pull request) a comment is on, as the end of its `issue_url`: `.../issues/12`. */
const ISSUE_NUMBER_IN_URL = /\/issues\/([1-9]\d{0,14})$/;

/**
 * A comment of a repository's listing: held to more than a comment read on its own issue, as its place in
 * the walk (`updated_at`) and the issue it is about come from it alone.
 */
const repositoryCommentSchema = commentSchema
  .extend({
    id: positiveInteger,
    issue_url: z.string().regex(ISSUE_NUMBER_IN_URL, 'does not end in /issues/<a positive number>'),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .refine((comment) => Date.parse(comment.updated_at) >= Date.parse(comment.created_at), {
    message: 'updated_at is before created_at',
    path: ['updated_at'],
  });

/** GitHub answered with JSON of a shape we do not understand: a bug or an API change, not a transient failure. */
export class UnexpectedGitHubPayloadError extends Error {
  constructor(what: string, issues: readonly z.core.$ZodIssue[]) {
    const first = issues[0];
    const where = first === undefined ? '' : ` (${first.path.join('.') || 'root'}: ${first.message})`;
    super(`GitHub's answer did not look like ${what}${where}`);
    this.name = 'UnexpectedGitHubPayloadError';
  }
}

function parse<T>(schema: z.ZodType<T>, what: string, data: unknown): T {
  const result = schema.safeParse(data);
  if (!result.success) throw new UnexpectedGitHubPayloadError(what, result.error.issues);
  return result.data;
}

export function toRemoteRepository(data: unknown): RemoteRepository {
  const repo = parse(repositorySchema, 'a repository', data);
  return {
    githubId: repo.id,
    owner: repo.owner.login,
    name: repo.name,
    private: repo.private,
    htmlUrl: repo.html_url,
  };
}

export function toIssue(data: unknown): Issue {
  return issueOf(parse(issueSchema, 'an issue', data));
}

function issueOf(issue: z.infer<typeof issueSchema>): Issue {
  return {
    githubId: issue.id,
    number: issue.number,
    title: issue.title,
    body: issue.body ?? null,
    state: issue.state,
    // GitHub marks pull requests in the issue list with a `pull_request` object.
    isPullRequest: issue.pull_request !== undefined && issue.pull_request !== null,
    labels: issue.labels.map((label) => (typeof label === 'string' ? label : label.name)),
    author: issue.user?.login ?? null,
    htmlUrl: issue.html_url,
    commentsCount: issue.comments,
    ...(issue.author_association === undefined ? {} : { authorAssociation: issue.author_association }),
    locked: issue.locked === true,
    createdAt: issue.created_at,
    updatedAt: issue.updated_at,
  };
}

export interface IssuePage {
  readonly issues: Issue[];
  /** Items that failed validation, in list order; the rest of the page is still good. */
  readonly skipped: SkippedIssue[];
}

/**
 * A list of issues, item by item: one malformed item (a field of the wrong
 * type, a state GitHub does not have, a non-positive number, updated before
 * created) is set aside with the reason, so it cannot stall its repository.
 */
export function toIssues(data: unknown): IssuePage {
  if (!Array.isArray(data)) throw new UnexpectedGitHubPayloadError('a list of issues', []);
  const page: IssuePage = { issues: [], skipped: [] };
  for (const item of data) {
    const result = issueSchema.safeParse(item);
    if (result.success) page.issues.push(issueOf(result.data));
    else page.skipped.push(skippedIssue(item, result.error.issues));
  }
  return page;
}

function skippedIssue(item: unknown, issues: readonly z.core.$ZodIssue[]): SkippedIssue {
  const loose = looseIssueSchema.safeParse(item);
  const fields = loose.success ? loose.data : { id: undefined, number: undefined, updated_at: undefined };
  return {
    githubId: positiveInteger.safeParse(fields.id).data ?? null,
    number: typeof fields.number === 'number' && Number.isFinite(fields.number) ? fields.number : null,
    updatedAt: timestamp.safeParse(fields.updated_at).data ?? null,
    reason: reasonOf(issues),
  };
}

export function toComment(data: unknown): Comment {
  return commentOf(parse(commentSchema, 'a comment', data));
}

function commentOf(comment: z.infer<typeof commentSchema>): Comment {
  const user = comment.user;
  return {
    githubId: comment.id,
    body: comment.body ?? '',
    author: user?.login ?? null,
    htmlUrl: comment.html_url,
    createdAt: comment.created_at,
    updatedAt: comment.updated_at,
    ...(comment.author_association === undefined ? {} : { authorAssociation: comment.author_association }),
    // GitHub Apps post as `name[bot]` with type Bot; either one is enough (a GHES app may say only one).
    ...(user ? { authorIsBot: user.type === 'Bot' || user.login.endsWith('[bot]') } : {}),
  };
}

export function toComments(data: unknown): Comment[] {
  if (!Array.isArray(data)) throw new UnexpectedGitHubPayloadError('a list of comments', []);
  return data.map(toComment);
}

export interface CommentPage {
  readonly comments: RepositoryComment[];
  /** Items that failed validation, in list order; the rest of the page is still good. */
  readonly skipped: SkippedComment[];
}

/**
 * A repository's comments, item by item: one malformed item (a field of the wrong type, an `issue_url`
 * naming no issue, a bad timestamp) is set aside with the reason, so it cannot stall the listing.
 */
export function toRepositoryComments(data: unknown): CommentPage {
  if (!Array.isArray(data)) throw new UnexpectedGitHubPayloadError('a list of comments', []);
  const page: CommentPage = { comments: [], skipped: [] };
  for (const item of data) {
    const result = repositoryCommentSchema.safeParse(item);
    if (!result.success) {
      page.skipped.push(skippedComment(item, result.error.issues));
      continue;
    }
    const issueNumber = Number(ISSUE_NUMBER_IN_URL.exec(result.data.issue_url)?.[1]);
    page.comments.push({ ...commentOf(result.data), issueNumber });
  }
  return page;
}

function skippedComment(item: unknown, issues: readonly z.core.$ZodIssue[]): SkippedComment {
  const loose = z.object({ id: z.unknown(), updated_at: z.unknown() }).safeParse(item);
  const fields = loose.success ? loose.data : { id: undefined, updated_at: undefined };
  return {
    githubId: positiveInteger.safeParse(fields.id).data ?? null,
    updatedAt: timestamp.safeParse(fields.updated_at).data ?? null,
    reason: reasonOf(issues),
  };
}

function reasonOf(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || 'item'}: ${issue.message}`)
    .join('; ');
}

/** Whether an RFC 8288 `Link` header announces a `rel="next"` page. */
export function hasNextLink(link: string | number | undefined): boolean {
  if (link === undefined) return false;
  for (const match of String(link).matchAll(/<[^>]*>\s*((?:;\s*[^;,]+)*)/g)) {
    const rel = /;\s*rel\s*=\s*"?([^";,]+)"?/i.exec(match[1] ?? '');
    if (rel?.[1]?.split(/\s+/).includes('next')) return true;
  }
  return false;
}

const discoveredSchema = z.object({
  id: positiveInteger,
  name: z.string().min(1),
  owner: z.object({ login: z.string().min(1) }),
  private: z.boolean(),
  html_url: z.string(),
  archived: z.boolean().default(false),
  topics: z.array(z.string()).default([]),
});

/** An organisation's repositories, item by item: a malformed one is left out and counted. */
export function toDiscoveredRepositories(data: unknown): { repositories: DiscoveredRepository[]; skipped: number } {
  if (!Array.isArray(data)) throw new UnexpectedGitHubPayloadError('a list of repositories', []);
  const page = { repositories: [] as DiscoveredRepository[], skipped: 0 };
  for (const item of data) {
    const result = discoveredSchema.safeParse(item);
    if (!result.success) {
      page.skipped++;
      continue;
    }
    const repo = result.data;
    page.repositories.push({
      githubId: repo.id,
      owner: repo.owner.login,
      name: repo.name,
      private: repo.private,
      htmlUrl: repo.html_url,
      archived: repo.archived,
      topics: repo.topics,
    });
  }
  return page;
}

/** The `repository` object GET /orgs/{org}/issues and GET /issues put in each item. */
const itemRepositorySchema = z.object({ id: positiveInteger, name: z.string().min(1), owner: z.object({ login: z.string().min(1) }) });

/**
 * A scope's issues, item by item, each placed in its repository: an item that
 * is malformed, or whose repository cannot be read, is set aside with the reason.
 */
export function toScopedIssues(data: unknown): { items: ScopedIssue[]; skipped: SkippedIssue[] } {
  if (!Array.isArray(data)) throw new UnexpectedGitHubPayloadError('a list of issues', []);
  const page = { items: [] as ScopedIssue[], skipped: [] as SkippedIssue[] };
  for (const item of data) {
    const result = issueSchema.safeParse(item);
    if (!result.success) {
      page.skipped.push(skippedIssue(item, result.error.issues));
      continue;
    }
    const repository = itemRepositorySchema.safeParse(typeof item === 'object' && item !== null ? (item as { repository?: unknown }).repository : undefined);
    if (!repository.success) {
      page.skipped.push({ ...skippedIssue(item, []), reason: 'repository: missing or malformed, the issue cannot be placed' });
      continue;
    }
    const { id, name, owner } = repository.data;
    page.items.push({ issue: issueOf(result.data), repository: { githubId: id, owner: owner.login, name } });
  }
  return page;
}
