/** The REST endpoints the simulator answers, each a pure function of the model and the request. */
import { paginate } from './pagination.js';
import {
  authenticatedUserPayload,
  commentPayload,
  errors,
  issuePayload,
  labelPayload,
  rateLimitPayload,
  repositoryPayload,
} from './payloads.js';
import { commentRoutes } from './comment-routes.js';
import {
  invalid,
  issueMatches,
  issueQueryOf,
  json,
  jsonFieldsOf,
  notFound,
  pageRequest,
  sinceOf,
  sortKey,
  withRepository,
  type Reply,
  type Route,
  type RouteContext,
} from './route-kit.js';
import { scopeRoutes } from './scope-routes.js';
import { SIM_USER, type IssueRecord, type RepositoryRecord } from './state.js';

export type { Reply, RouteContext } from './route-kit.js';

/** A transferred issue's old URL answers 301 to its new one, as GitHub does; writes there get 404. */
function withIssue(
  handle: (context: RouteContext, issue: IssueRecord) => Reply,
): (context: RouteContext, params: string[]) => Reply {
  return withRepository((context, repository, [number = '']) => {
    const issue = context.state.findIssue(repository, Number(number));
    if (issue) return handle(context, issue);
    const moved = context.method === 'GET' ? context.state.transferredIssue(repository, Number(number)) : undefined;
    if (!moved) return notFound();
    const suffix = context.path.replace(/^\/repos\/[^/]+\/[^/]+\/issues\/\d+/, '');
    const query = context.search.toString();
    const location =
      `${context.base.api}/repos/${moved.repository.owner}/${moved.repository.name}/issues/${moved.number}` +
      `${suffix}${query ? `?${query}` : ''}`;
    return { status: 301, body: errors.movedPermanently(location), headers: { location } };
  });
}

function listIssues(context: RouteContext, repository: RepositoryRecord): Reply {
  const query = issueQueryOf(context.search);
  if ('error' in query) return query.error;
  const sign = query.direction === 'asc' ? 1 : -1;
  const key = sortKey(query.sort);
  const matching = context.state
    .issuesOf(repository)
    .filter((issue) => issueMatches(query, issue))
    .sort((a, b) => sign * (key(a) - key(b)) || a.id - b.id);

  const page = paginate(pageRequest(context), matching);
  return {
    status: 200,
    body: page.items.map((issue) => issuePayload(context.state, context.base, issue)),
    headers: page.link ? { link: page.link } : {},
  };
}

function listComments(context: RouteContext, issue: IssueRecord): Reply {
  const since = sinceOf(context.search);
  if (Number.isNaN(since)) return invalid('IssueComment', 'since');
  const matching = issue.comments
    .filter((comment) => since === null || Date.parse(comment.updatedAt) >= since)
    .sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt) || a.id - b.id);
  const page = paginate(pageRequest(context), matching);
  return {
    status: 200,
    body: page.items.map((comment) => commentPayload(context.state, context.base, comment)),
    headers: page.link ? { link: page.link } : {},
  };
}

/** The `body` field of a JSON request, or the error reply GitHub gives instead. */
function commentBodyOf(raw: string): { body: string } | { error: Reply } {
  const parsed = jsonFieldsOf(raw);
  if ('error' in parsed) return parsed;
  const body = parsed.fields['body'];
  if (typeof body !== 'string' || body === '') {
    return { error: { status: 422, body: errors.validationFailed('IssueComment', 'body', 'missing_field') } };
  }
  return { body };
}

function createComment(context: RouteContext, issue: IssueRecord): Reply {
  const input = commentBodyOf(context.body);
  if ('error' in input) return input.error;
  // The issue's updated_at becomes the comment's created_at: how a poller sees its own writes.
  const comment = context.state.appendComment(issue, { body: input.body, user: SIM_USER });
  const payload = commentPayload(context.state, context.base, comment);
  return { status: 201, body: payload, headers: { location: payload.url } };
}

const OWNER_REPO = String.raw`/repos/([^/]+)/([^/]+)`;

const routes: Route[] = [
  ...scopeRoutes,
  ...commentRoutes,
  {
    operationId: 'rate-limit/get',
    method: 'GET',
    pattern: /^\/rate_limit$/,
    free: true,
    handle: (context) =>
      json(rateLimitPayload(context.budgets.stateOf(context.token), context.graphqlBudgets.stateOf(context.token))),
  },
  {
    operationId: 'users/get-authenticated',
    method: 'GET',
    pattern: /^\/user$/,
    handle: (context) => json(authenticatedUserPayload(context.state, context.base, SIM_USER)),
  },
  {
    operationId: 'repos/get',
    method: 'GET',
    pattern: new RegExp(`^${OWNER_REPO}$`),
    handle: withRepository((context, repository) =>
      json(repositoryPayload(context.state, context.base, repository)),
    ),
  },
  {
    operationId: 'issues/list-for-repo',
    method: 'GET',
    pattern: new RegExp(`^${OWNER_REPO}/issues$`),
    handle: withRepository(listIssues),
  },
  {
    operationId: 'issues/get-comment',
    method: 'GET',
    pattern: new RegExp(`^${OWNER_REPO}/issues/comments/(\\d+)$`),
    handle: withRepository((context, repository, [id = '']) => {
      const comment = context.state.findComment(repository, Number(id));
      return comment ? json(commentPayload(context.state, context.base, comment)) : notFound();
    }),
  },
  {
    operationId: 'issues/update-comment',
    method: 'PATCH',
    pattern: new RegExp(`^${OWNER_REPO}/issues/comments/(\\d+)$`),
    handle: withRepository((context, repository, [id = '']) => {
      const comment = context.state.findComment(repository, Number(id));
      if (!comment) return notFound();
      const input = commentBodyOf(context.body);
      if ('error' in input) return input.error;
      return json(commentPayload(context.state, context.base, context.state.editComment(comment, input.body)));
    }),
  },
  {
    operationId: 'issues/get',
    method: 'GET',
    pattern: new RegExp(`^${OWNER_REPO}/issues/(\\d+)$`),
    handle: withIssue((context, issue) => json(issuePayload(context.state, context.base, issue))),
  },
  {
    operationId: 'issues/list-comments',
    method: 'GET',
    pattern: new RegExp(`^${OWNER_REPO}/issues/(\\d+)/comments$`),
    handle: withIssue(listComments),
  },
  {
    operationId: 'issues/create-comment',
    method: 'POST',
    pattern: new RegExp(`^${OWNER_REPO}/issues/(\\d+)/comments$`),
    handle: withIssue(createComment),
  },
  {
    operationId: 'issues/list-labels-for-repo',
    method: 'GET',
    pattern: new RegExp(`^${OWNER_REPO}/labels$`),
    handle: withRepository((context, repository) => {
      const labels = [...repository.labels.values()].sort((a, b) => a.name.localeCompare(b.name));
      const page = paginate(pageRequest(context), labels);
      return {
        status: 200,
        body: page.items.map((label) => labelPayload(context.base, repository, label)),
        headers: page.link ? { link: page.link } : {},
      };
    }),
  },
];

export interface MatchedRoute {
  operationId: string;
  free: boolean;
  handle(context: RouteContext): Reply;
}

/** Every endpoint the simulator serves, named by method and GitHub operation. */
export function servedOperations(): Array<{ method: string; operationId: string }> {
  return routes.map((route) => ({ method: route.method, operationId: route.operationId }));
}

/** The route for a request, or undefined (GitHub answers 404 for unknown paths and methods alike). */
export function matchRoute(method: string, path: string): MatchedRoute | undefined {
  for (const route of routes) {
    if (route.method !== method) continue;
    const match = route.pattern.exec(path);
    if (!match) continue;
    let params: string[];
    try {
      params = match.slice(1).map((param) => decodeURIComponent(param));
    } catch {
      return undefined; // malformed percent-encoding names nothing that exists
    }
    return {
      operationId: route.operationId,
      free: route.free ?? false,
      handle: (context) => route.handle(context, params),
    };
  }
  return undefined;
}
