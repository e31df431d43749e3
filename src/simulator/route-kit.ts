/** What every REST route shares: the request context, replies, and the issue-listing parameters. */
import { errors, type UrlBase } from './payloads.js';
import type { RateLimitBudgets } from './rate-limit.js';
import { isoSeconds, type IssueRecord, type RepositoryRecord, type SimulatorState } from './state.js';

export interface RouteContext {
  state: SimulatorState;
  budgets: RateLimitBudgets;
  graphqlBudgets: RateLimitBudgets;
  token: string;
  method: string;
  /** Without query and '/api/v3' prefix. */
  path: string;
  search: URLSearchParams;
  base: UrlBase;
  /** The raw request body. */
  body: string;
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** The body already serialised (the ETag needed it), sent as is. */
  text?: string;
}

export interface Route {
  /** The operation in GitHub's REST description this route answers as; test/simulator-openapi.test.ts holds it to it. */
  operationId: string;
  method: string;
  pattern: RegExp;
  /** Free routes cost no rate-limit unit (GitHub's /rate_limit). */
  free?: boolean;
  handle(context: RouteContext, params: string[]): Reply;
}

export const notFound = (): Reply => ({ status: 404, body: errors.notFound() });
export const json = (body: unknown, status = 200): Reply => ({ status, body });

/** A route under /repos/{owner}/{repo}: 404 when there is no such repository (names compared case-insensitively). */
export function withRepository(
  handle: (context: RouteContext, repository: RepositoryRecord, rest: string[]) => Reply,
): (context: RouteContext, params: string[]) => Reply {
  return (context, [owner = '', name = '', ...rest]) => {
    const repository = context.state.findRepository(owner, name);
    return repository ? handle(context, repository, rest) : notFound();
  };
}

/** A JSON request body's fields (an empty body is `{}`), or the 400 GitHub gives for one it cannot parse. */
export function jsonFieldsOf(raw: string): { fields: Record<string, unknown> } | { error: Reply } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw === '' ? '{}' : raw);
  } catch {
    return { error: { status: 400, body: errors.problemsParsingJson() } };
  }
  return { fields: typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {} };
}

const ISSUE_STATES = ['open', 'closed', 'all'] as const;
const ISSUE_SORTS = ['created', 'updated', 'comments'] as const;
export const DIRECTIONS = ['asc', 'desc'] as const;

export function invalid(resource: string, field: string): Reply {
  return { status: 422, body: errors.validationFailed(resource, field, 'invalid') };
}

/** GitHub's `since`: an ISO 8601 timestamp; null when absent, NaN when unparsable. */
export function sinceOf(search: URLSearchParams): number | null {
  const value = search.get('since');
  if (value === null || value === '') return null;
  return /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : Number.NaN;
}

export function pageRequest(context: RouteContext) {
  return { url: `${context.base.api}${context.path}`, search: context.search };
}

function oneOf<T extends string>(values: readonly T[], value: string): value is T {
  return (values as readonly string[]).includes(value);
}

/** The parameters every issue listing takes (state, labels, sort, direction, since), checked. */
export interface IssueQuery {
  state: (typeof ISSUE_STATES)[number];
  sort: (typeof ISSUE_SORTS)[number];
  direction: (typeof DIRECTIONS)[number];
  /**
   * `since` as a timestamp at second resolution, rounded up: issue times are whole seconds in one format,
   * so comparing the text is comparing the times, without parsing 20,000 dates per request.
   */
  since: string | null;
  /** Lower-cased label names, all required. */
  labels: string[];
}

export function issueQueryOf(search: URLSearchParams): IssueQuery | { error: Reply } {
  const state = search.get('state') ?? 'open';
  const sort = search.get('sort') ?? 'created';
  const direction = search.get('direction') ?? 'desc';
  const since = sinceOf(search);
  if (!oneOf(ISSUE_STATES, state)) return { error: invalid('Issue', 'state') };
  if (!oneOf(ISSUE_SORTS, sort)) return { error: invalid('Issue', 'sort') };
  if (!oneOf(DIRECTIONS, direction)) return { error: invalid('Issue', 'direction') };
  if (Number.isNaN(since)) return { error: invalid('Issue', 'since') };
  const labels = (search.get('labels') ?? '')
    .split(',')
    .map((label) => label.trim().toLowerCase())
    .filter((label) => label !== '');
  return {
    state,
    sort,
    direction,
    since: since === null ? null : isoSeconds(Math.ceil(since / 1000) * 1000),
    labels,
  };
}

/** State, since (inclusive) and labels. */
export function issueMatches(query: IssueQuery, issue: IssueRecord): boolean {
  if (query.state !== 'all' && issue.state !== query.state) return false;
  if (query.since !== null && issue.updatedAt < query.since) return false;
  if (query.labels.length === 0) return true;
  const carried = new Set(issue.labels.map((label) => label.toLowerCase()));
  return query.labels.every((label) => carried.has(label));
}

export function sortKey(sort: IssueQuery['sort']): (issue: IssueRecord) => number {
  if (sort === 'comments') return (issue) => issue.comments.length;
  return sort === 'updated' ? (issue) => Date.parse(issue.updatedAt) : (issue) => Date.parse(issue.createdAt);
}
