/**
 * Listings across repositories: an organisation's repositories (discovery) and the issues of an
 * organisation or of every repository the user sees (a fleet's streams).
 */
import { paginate } from './pagination.js';
import { issuePayload, repositoryPayload } from './payloads.js';
import {
  DIRECTIONS,
  invalid,
  issueMatches,
  issueQueryOf,
  notFound,
  pageRequest,
  type Reply,
  type Route,
  type RouteContext,
} from './route-kit.js';
import { SIM_USER, type IssueRecord, type RepositoryRecord } from './state.js';

const REPOSITORY_TYPES = ['all', 'public', 'private', 'forks', 'sources', 'member'];
const REPOSITORY_SORTS = ['created', 'updated', 'pushed', 'full_name'];
const ISSUE_FILTERS = ['assigned', 'created', 'mentioned', 'subscribed', 'repos', 'all'];

function listOrganizationRepositories(context: RouteContext, [org = '']: string[]): Reply {
  const all = context.state.repositoriesOf(org);
  // An organisation is any owner with repositories; an unknown one is 404, as on GitHub.
  if (all.length === 0) return notFound();
  const { search } = context;
  const type = search.get('type') ?? 'all';
  const sort = search.get('sort') ?? 'created';
  // GitHub's default direction: asc for full_name, desc otherwise.
  const direction = search.get('direction') ?? (sort === 'full_name' ? 'asc' : 'desc');
  if (!REPOSITORY_TYPES.includes(type)) return invalid('Repository', 'type');
  if (!REPOSITORY_SORTS.includes(sort)) return invalid('Repository', 'sort');
  if (!(DIRECTIONS as readonly string[]).includes(direction)) return invalid('Repository', 'direction');

  // The simulator has no forks: `forks` lists none, `sources` and `member` list all.
  const kept = all.filter((repository) =>
    type === 'public' ? !repository.private : type === 'private' ? repository.private : type !== 'forks',
  );
  const sign = direction === 'asc' ? 1 : -1;
  const order =
    sort === 'full_name'
      ? (a: RepositoryRecord, b: RepositoryRecord) => a.name.localeCompare(b.name) || a.id - b.id
      : sort === 'created'
        ? (a: RepositoryRecord, b: RepositoryRecord) => compareText(a.createdAt, b.createdAt) || a.id - b.id
        : (a: RepositoryRecord, b: RepositoryRecord) => compareText(a.updatedAt, b.updatedAt) || a.id - b.id;
  kept.sort((a, b) => sign * order(a, b));
  const page = paginate(pageRequest(context), kept);
  return {
    status: 200,
    body: page.items.map((repository) => repositoryPayload(context.state, context.base, repository)),
    headers: page.link ? { link: page.link } : {},
  };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `filter` as seen by the one simulated user, who is assigned nothing and mentioned by @login only. */
function filterOf(filter: string): (issue: IssueRecord) => boolean {
  switch (filter) {
    case 'assigned':
      return () => false;
    case 'created':
      return (issue) => issue.user === SIM_USER;
    case 'mentioned':
      return (issue) => issue.body?.includes(`@${SIM_USER}`) ?? false;
    case 'subscribed':
      return (issue) => issue.user === SIM_USER || issue.comments.some((comment) => comment.user === SIM_USER);
    default:
      return () => true;
  }
}

/** GET /orgs/{org}/issues and GET /issues: issues and pull requests, each with its `repository`. */
function listScopeIssues(context: RouteContext, org: string | null): Reply {
  const { state, search } = context;
  if (org !== null && state.repositoriesOf(org).length === 0) return notFound();
  const filter = search.get('filter') ?? 'assigned';
  if (!ISSUE_FILTERS.includes(filter)) return invalid('Issue', 'filter');
  const query = issueQueryOf(search);
  if ('error' in query) return query.error;

  const inFilter = filterOf(filter);
  const ordered = state.scopeIssues(org, query.sort);
  // Sorted by update, `since` cuts the cached order where it starts: a stream's page costs what it returns.
  const from = query.sort === 'updated' && query.since !== null ? firstUpdatedAtOrAfter(ordered, query.since) : 0;
  const matching: IssueRecord[] = [];
  const keep = (issue: IssueRecord) => {
    if (issueMatches(query, issue) && inFilter(issue) && !state.isHiddenFromScopes(issue)) matching.push(issue);
  };
  // Walk the cached ascending order in the direction asked; nothing is sorted per request.
  if (query.direction === 'asc') for (let i = from; i < ordered.length; i++) keep(ordered[i] as IssueRecord);
  else for (let i = ordered.length - 1; i >= from; i--) keep(ordered[i] as IssueRecord);
  const page = paginate(pageRequest(context), matching);
  const repositories = new Map<RepositoryRecord, ReturnType<typeof repositoryPayload>>();
  const body = page.items.map((issue) => {
    let repository = repositories.get(issue.repository);
    if (!repository) {
      repository = repositoryPayload(state, context.base, issue.repository);
      repositories.set(issue.repository, repository);
    }
    return { ...issuePayload(state, context.base, issue), repository };
  });
  return { status: 200, body, headers: page.link ? { link: page.link } : {} };
}

function firstUpdatedAtOrAfter(ordered: readonly IssueRecord[], since: string): number {
  let low = 0;
  let high = ordered.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((ordered[middle] as IssueRecord).updatedAt < since) low = middle + 1;
    else high = middle;
  }
  return low;
}

export const scopeRoutes: Route[] = [
  {
    operationId: 'repos/list-for-org',
    method: 'GET',
    pattern: /^\/orgs\/([^/]+)\/repos$/,
    handle: listOrganizationRepositories,
  },
  {
    operationId: 'issues/list-for-org',
    method: 'GET',
    pattern: /^\/orgs\/([^/]+)\/issues$/,
    handle: (context, [org = '']) => listScopeIssues(context, org),
  },
  {
    operationId: 'issues/list',
    method: 'GET',
    pattern: /^\/issues$/,
    handle: (context) => listScopeIssues(context, null),
  },
];
