/**
 * The objects GraphQL queries resolve to: the simulator's records seen as GitHub's GraphQL types, for the
 * fields a fleet asks (repository, its issues and pull requests with ordering and filters, rateLimit).
 * A field not modelled here resolves to null (an error, if the schema says it cannot be null).
 */
import { GraphQLError } from 'graphql';
import type { FaultQueue } from '../faults.js';
import type { UrlBase } from '../payloads.js';
import { SIM_USER, type IssueRecord, type RepositoryRecord, type SimulatorState } from '../state.js';
import type { RateLimitState } from '../types.js';

export interface QueryContext {
  state: SimulatorState;
  faults: FaultQueue;
  base: UrlBase;
  /** The budget after this query was charged, and what it cost. */
  rateLimit: RateLimitState;
  cost: number;
  nodeCount: number;
}

interface ConnectionArgs {
  first?: number | null;
  last?: number | null;
  after?: string | null;
  before?: string | null;
  orderBy?: { field: string; direction: 'ASC' | 'DESC' } | null;
  states?: string[] | null;
  labels?: string[] | null;
  filterBy?: { since?: string | null; states?: string[] | null; labels?: string[] | null } | null;
}

function nodeId(prefix: string, id: number): string {
  return `${prefix}_${Buffer.from(`sim:${id}`).toString('base64url')}`;
}

function cursorOf(index: number): string {
  return Buffer.from(`cursor:v2:${index}`).toString('base64');
}

function indexOf(cursor: string | null | undefined): number | null {
  if (!cursor) return null;
  const match = /^cursor:v2:(\d+)$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
  return match ? Number(match[1]) : null;
}

/** The GraphQL state of an issue or pull request (the simulator's pull requests are never merged). */
function stateOf(issue: IssueRecord): string {
  return issue.state === 'open' ? 'OPEN' : 'CLOSED';
}

function itemNode(base: UrlBase, issue: IssueRecord) {
  const repository = issue.repository;
  const kind = issue.pullRequest ? 'pull' : 'issues';
  return {
    __typename: issue.pullRequest ? 'PullRequest' : 'Issue',
    id: nodeId(issue.pullRequest ? 'PR' : 'I', issue.id),
    databaseId: issue.id,
    number: issue.number,
    title: issue.title,
    body: issue.body ?? '',
    state: stateOf(issue),
    closed: issue.state === 'closed',
    createdAt: issue.createdAt,
    updatedAt: issue.updatedAt,
    closedAt: issue.closedAt,
    url: `${base.web}/${repository.owner}/${repository.name}/${kind}/${issue.number}`,
    author: { __typename: 'User', login: issue.user },
  };
}

/** Orders, filters and slices like GitHub's connections: first/after from the front, last/before from the back. */
function connection(base: UrlBase, all: IssueRecord[], args: ConnectionArgs) {
  const states = args.filterBy?.states ?? args.states ?? null;
  const labels = (args.filterBy?.labels ?? args.labels ?? []).map((label) => label.toLowerCase());
  const since = args.filterBy?.since ? Date.parse(args.filterBy.since) : null;
  const matching = all.filter(
    (issue) =>
      (states === null || states.includes(stateOf(issue))) &&
      (since === null || Date.parse(issue.updatedAt) >= since) &&
      labels.every((label) => issue.labels.some((carried) => carried.toLowerCase() === label)),
  );
  const field = args.orderBy?.field ?? 'CREATED_AT';
  const sign = args.orderBy?.direction === 'DESC' ? -1 : 1;
  const key = (issue: IssueRecord): number =>
    field === 'COMMENTS' ? issue.comments.length : Date.parse(field === 'UPDATED_AT' ? issue.updatedAt : issue.createdAt);
  matching.sort((a, b) => sign * (key(a) - key(b) || a.id - b.id));

  let start = 0;
  let end = matching.length;
  const after = indexOf(args.after);
  const before = indexOf(args.before);
  if (after !== null) start = Math.min(end, after + 1);
  if (before !== null) end = Math.max(start, Math.min(end, before));
  if (args.first !== null && args.first !== undefined) end = Math.min(end, start + args.first);
  if (args.last !== null && args.last !== undefined) start = Math.max(start, end - args.last);
  const slice = matching.slice(start, end);
  return {
    totalCount: matching.length,
    nodes: slice.map((issue) => itemNode(base, issue)),
    edges: slice.map((issue, offset) => ({ cursor: cursorOf(start + offset), node: itemNode(base, issue) })),
    pageInfo: {
      hasNextPage: end < matching.length,
      hasPreviousPage: start > 0,
      startCursor: slice.length > 0 ? cursorOf(start) : null,
      endCursor: slice.length > 0 ? cursorOf(end - 1) : null,
    },
  };
}

function repositoryNode(context: QueryContext, repository: RepositoryRecord) {
  const { base } = context;
  const items = () => [...repository.issues.values()];
  return {
    __typename: 'Repository',
    id: nodeId('R', repository.id),
    databaseId: repository.id,
    name: repository.name,
    nameWithOwner: `${repository.owner}/${repository.name}`,
    owner: { __typename: 'Organization', login: repository.owner },
    isArchived: repository.archived,
    isPrivate: repository.private,
    visibility: repository.private ? 'PRIVATE' : 'PUBLIC',
    url: `${base.web}/${repository.owner}/${repository.name}`,
    createdAt: repository.createdAt,
    updatedAt: repository.updatedAt,
    repositoryTopics: () => ({ totalCount: repository.topics.length }),
    issues: (args: ConnectionArgs) => connection(base, items().filter((issue) => !issue.pullRequest), args),
    pullRequests: (args: ConnectionArgs) => connection(base, items().filter((issue) => issue.pullRequest), args),
  };
}

/** graphql-js places the error at the field (path, locations) as it leaves the resolver. */
function graphqlError(message: string, extensions: Record<string, unknown>): GraphQLError {
  return new GraphQLError(message, { extensions });
}

/** The root object: `Query` fields a fleet uses. */
export function queryRoot(context: QueryContext) {
  return {
    repository(args: { owner: string; name: string }) {
      const fullName = `${args.owner}/${args.name}`;
      const forbidden = context.faults.take(
        'POST',
        '/graphql',
        (fault) => fault.kind === 'graphql-forbidden' && fault.repository.toLowerCase() === fullName.toLowerCase(),
      );
      if (forbidden) {
        throw graphqlError(
          'Resource protected by organization SAML enforcement. You must grant your Personal Access token access to this organization.',
          { type: 'FORBIDDEN', saml_failure: true },
        );
      }
      const repository = context.state.findRepository(args.owner, args.name);
      if (!repository) {
        throw graphqlError(`Could not resolve to a Repository with the name '${fullName}'.`, { type: 'NOT_FOUND' });
      }
      return repositoryNode(context, repository);
    },
    rateLimit() {
      const { rateLimit } = context;
      return {
        cost: context.cost,
        limit: rateLimit.limit,
        remaining: rateLimit.remaining,
        used: rateLimit.used,
        resetAt: new Date(rateLimit.resetAt * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        nodeCount: context.nodeCount,
      };
    },
    viewer() {
      return { __typename: 'User', login: SIM_USER, databaseId: context.state.userId(SIM_USER) };
    },
  };
}
