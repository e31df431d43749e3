/** GitHub-shaped JSON for the simulator's records, field names and nesting as the REST API returns them. */
import type { CommentRecord, IssueRecord, LabelRecord, RepositoryRecord, SimulatorState } from './state.js';
import type { RateLimitState } from './types.js';

/** Where payload URLs point: the API root the request used, and the web root beside it (as on GHES). */
export interface UrlBase {
  api: string;
  web: string;
}

const DOCS = 'https://docs.github.com/rest';

function nodeId(prefix: string, id: number): string {
  return `${prefix}_${Buffer.from(`sim:${id}`).toString('base64url')}`;
}

export function userPayload(state: SimulatorState, base: UrlBase, login: string) {
  const id = state.userId(login);
  return {
    login,
    id,
    node_id: nodeId('U', id),
    avatar_url: `${base.web}/avatars/${encodeURIComponent(login)}`,
    url: `${base.api}/users/${encodeURIComponent(login)}`,
    html_url: `${base.web}/${encodeURIComponent(login)}`,
    type: login.endsWith('[bot]') ? 'Bot' : 'User',
    site_admin: false,
  };
}

function repoApiUrl(base: UrlBase, repository: RepositoryRecord): string {
  return `${base.api}/repos/${repository.owner}/${repository.name}`;
}

export function repositoryPayload(state: SimulatorState, base: UrlBase, repository: RepositoryRecord) {
  const openIssues = state.issuesOf(repository).filter((issue) => issue.state === 'open').length;
  return {
    id: repository.id,
    node_id: nodeId('R', repository.id),
    name: repository.name,
    full_name: `${repository.owner}/${repository.name}`,
    private: repository.private,
    owner: userPayload(state, base, repository.owner),
    html_url: `${base.web}/${repository.owner}/${repository.name}`,
    description: null,
    fork: false,
    url: repoApiUrl(base, repository),
    issues_url: `${repoApiUrl(base, repository)}/issues{/number}`,
    labels_url: `${repoApiUrl(base, repository)}/labels{/name}`,
    created_at: repository.createdAt,
    updated_at: repository.createdAt,
    pushed_at: repository.createdAt,
    default_branch: 'main',
    visibility: repository.private ? 'private' : 'public',
    has_issues: true,
    archived: false,
    disabled: false,
    open_issues_count: openIssues,
    open_issues: openIssues,
    permissions: { admin: false, maintain: false, push: true, triage: true, pull: true },
  };
}

export function labelPayload(base: UrlBase, repository: RepositoryRecord, label: LabelRecord) {
  return {
    id: label.id,
    node_id: nodeId('LA', label.id),
    url: `${repoApiUrl(base, repository)}/labels/${encodeURIComponent(label.name)}`,
    name: label.name,
    color: label.color,
    default: false,
    description: label.description,
  };
}

export function issuePayload(state: SimulatorState, base: UrlBase, issue: IssueRecord) {
  const repository = issue.repository;
  const url = `${repoApiUrl(base, repository)}/issues/${issue.number}`;
  const kind = issue.pullRequest ? 'pull' : 'issues';
  const htmlUrl = `${base.web}/${repository.owner}/${repository.name}/${kind}/${issue.number}`;
  const payload = {
    url,
    repository_url: repoApiUrl(base, repository),
    labels_url: `${url}/labels{/name}`,
    comments_url: `${url}/comments`,
    events_url: `${url}/events`,
    html_url: htmlUrl,
    id: issue.id,
    node_id: nodeId(issue.pullRequest ? 'PR' : 'I', issue.id),
    number: issue.number,
    title: issue.title,
    user: userPayload(state, base, issue.user),
    labels: issue.labels.map((name) => labelPayload(base, repository, state.labelOf(repository, name))),
    state: issue.state,
    locked: false,
    assignee: null,
    assignees: [],
    milestone: null,
    comments: issue.comments.length,
    created_at: issue.createdAt,
    updated_at: issue.updatedAt,
    closed_at: issue.closedAt,
    author_association: 'NONE',
    active_lock_reason: null,
    body: issue.body,
    state_reason: issue.state === 'closed' ? 'completed' : null,
    timeline_url: `${url}/timeline`,
    performed_via_github_app: null,
  };
  if (!issue.pullRequest) return payload;
  const pullUrl = `${repoApiUrl(base, repository)}/pulls/${issue.number}`;
  return {
    ...payload,
    draft: false,
    pull_request: {
      url: pullUrl,
      html_url: htmlUrl,
      diff_url: `${htmlUrl}.diff`,
      patch_url: `${htmlUrl}.patch`,
      merged_at: null,
    },
  };
}

export function commentPayload(state: SimulatorState, base: UrlBase, comment: CommentRecord) {
  const repository = comment.issue.repository;
  const kind = comment.issue.pullRequest ? 'pull' : 'issues';
  return {
    url: `${repoApiUrl(base, repository)}/issues/comments/${comment.id}`,
    html_url: `${base.web}/${repository.owner}/${repository.name}/${kind}/${comment.issue.number}#issuecomment-${comment.id}`,
    issue_url: `${repoApiUrl(base, repository)}/issues/${comment.issue.number}`,
    id: comment.id,
    node_id: nodeId('IC', comment.id),
    user: userPayload(state, base, comment.user),
    created_at: comment.createdAt,
    updated_at: comment.updatedAt,
    author_association: 'NONE',
    body: comment.body,
    performed_via_github_app: null,
  };
}

export function rateLimitPayload(core: RateLimitState) {
  const resource = { limit: core.limit, used: core.used, remaining: core.remaining, reset: core.resetAt };
  return {
    resources: {
      core: resource,
      search: { limit: 30, used: 0, remaining: 30, reset: core.resetAt },
      graphql: { limit: 5000, used: 0, remaining: 5000, reset: core.resetAt },
    },
    rate: resource,
  };
}

export const errors = {
  notFound: () => ({ message: 'Not Found', documentation_url: DOCS, status: '404' }),
  badCredentials: () => ({ message: 'Bad credentials', documentation_url: DOCS, status: '401' }),
  problemsParsingJson: () => ({ message: 'Problems parsing JSON', documentation_url: DOCS, status: '400' }),
  movedPermanently: (url: string) => ({ message: 'Moved Permanently', url, documentation_url: DOCS }),
  validationFailed: (resource: string, field: string, code: string) => ({
    message: 'Validation Failed',
    errors: [{ resource, field, code }],
    documentation_url: DOCS,
    status: '422',
  }),
  rateLimitExceeded: (requestId: string, timestamp: string) => ({
    message:
      'API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include ' +
      `the request ID ${requestId} and timestamp ${timestamp}.`,
    documentation_url: 'https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting',
    status: '403',
  }),
  secondaryRateLimit: (requestId: string, status: number) => ({
    message:
      'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach ' +
      `out to GitHub Support for help, please include the request ID ${requestId}.`,
    documentation_url:
      'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
    status: String(status),
  }),
};
