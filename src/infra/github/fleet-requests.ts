/**
 * The fleet's GitHub requests (src/domain/fleet/ports.ts): an organisation's
 * repositories, a scope's issue stream, and the GraphQL sweep. They go
 * through the client's one door (`send`), so the governor and the error
 * classification see them like every other request.
 */
import type { RepositoryRef } from '../../domain/entities.js';
import type { ListScopeIssuesResult } from '../../domain/fleet/ports.js';
import type { DiscoveredRepository, IssueScope, SweepOutcome } from '../../domain/fleet/types.js';
import type { ListIssuesRequest } from '../../domain/ports.js';
import { type RequestDescription, graphqlQueryError, runawayListingError } from './errors.js';
import { hasNextLink, toDiscoveredRepositories, toScopedIssues } from './mapping.js';
import { readSweep, sweepQuery } from './sweep.js';
import { etagOf, type Transport } from './transport.js';

const PER_PAGE = 100;
/** 100,000 repositories: more than any organisation has; beyond it the listing is a server's runaway, not data. */
const MAX_REPOSITORY_PAGES = 1000;

export async function listOrganizationRepositories(
  transport: Transport,
  org: string,
  signal: AbortSignal,
): Promise<{ repositories: DiscoveredRepository[]; skipped: number }> {
  const request = describe('GET', `/orgs/${encodeURIComponent(org)}/repos`, `list repositories of organization ${org}`, org);
  const repositories: DiscoveredRepository[] = [];
  let skipped = 0;
  let previous = '';
  for (let page = 1; ; page++) {
    const params = { org, type: 'all', sort: 'created', direction: 'asc', per_page: PER_PAGE, page };
    const response = await transport.send(request, 'GET /orgs/{org}/repos', params, signal);
    const body = transport.jsonBody(request, response);
    const batch = toDiscoveredRepositories(body);
    if (Array.isArray(body) && body.length === 0) break;
    const signature = batch.repositories.map((repo) => repo.githubId).join(',');
    if (signature !== '' && signature === previous) {
      throw runawayListingError(request, `GitHub answered page ${page} with the same repositories as page ${page - 1}`, response.status);
    }
    previous = signature;
    repositories.push(...batch.repositories);
    skipped += batch.skipped;
    if (!hasNextLink(response.headers.link)) break;
    if (page >= MAX_REPOSITORY_PAGES) {
      throw runawayListingError(request, `GitHub still announced more repositories after ${MAX_REPOSITORY_PAGES} pages (${repositories.length} repositories)`, response.status);
    }
  }
  return { repositories, skipped };
}

export async function listScopeIssues(
  transport: Transport,
  scope: IssueScope,
  cursor: ListIssuesRequest,
  signal: AbortSignal,
): Promise<ListScopeIssuesResult> {
  const organization = scope.kind === 'organization';
  const request = organization
    ? describe('GET', `/orgs/${encodeURIComponent(scope.org)}/issues`, `list issues of organization ${scope.org}`, scope.org)
    : describe('GET', '/issues', "list issues of the token's user", 'the user');
  const params: Record<string, unknown> = {
    ...(organization ? { org: scope.org } : {}),
    filter: 'all',
    state: 'all',
    sort: 'updated',
    direction: 'asc',
    per_page: PER_PAGE,
    page: cursor.page,
    ...(cursor.since === null ? {} : { since: cursor.since }),
    ...(cursor.etag === null ? {} : { headers: { 'if-none-match': cursor.etag } }),
  };
  const response = await transport.send(request, organization ? 'GET /orgs/{org}/issues' : 'GET /issues', params, signal);
  if (response.status === 304) return { notModified: true };
  const { items, skipped } = toScopedIssues(transport.jsonBody(request, response));
  return { notModified: false, items, skipped, hasNextPage: hasNextLink(response.headers.link), etag: etagOf(response) };
}

export async function sweep(transport: Transport, batch: readonly RepositoryRef[], signal: AbortSignal): Promise<SweepOutcome[]> {
  if (batch.length === 0) return [];
  const request = describe('POST', '/graphql', `sweep ${batch.length} repositories`, batch.map((repo) => `${repo.owner}/${repo.name}`).join(', '));
  const { query, variables } = sweepQuery(batch);
  const response = await transport.send(request, 'POST /graphql', { query, variables }, signal);
  const answer = readSweep(transport.jsonBody(request, response), batch);
  if (!answer.ok) throw graphqlQueryError(request, response.status, response.headers, answer.errors, { now: transport.now(), secrets: transport.secrets });
  return answer.outcomes;
}

function describe(method: string, path: string, operation: string, subject: string): RequestDescription {
  return { method, path, operation, repository: subject, subject: 'it' };
}
