/** GitHub-shaped JSON for the simulator's records, field names and nesting as the REST API returns them. */
import { isBotLogin } from './records.js';
import type { CommentRecord, IssueRecord, LabelRecord, ReactionRecord, RepositoryRecord, SimulatorState } from './state.js';
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

/** A user as GitHub embeds one in issues, comments and repositories (the description's simple-user). */
export function userPayload(state: SimulatorState, base: UrlBase, login: string) {
  const id = state.userId(login);
  const url = `${base.api}/users/${encodeURIComponent(login)}`;
  return {
    login,
    id,
    node_id: nodeId('U', id),
    avatar_url: `${base.web}/avatars/${encodeURIComponent(login)}`,
    gravatar_id: '',
    url,
    html_url: `${base.web}/${encodeURIComponent(login)}`,
    followers_url: `${url}/followers`,
    following_url: `${url}/following{/other_user}`,
    gists_url: `${url}/gists{/gist_id}`,
    starred_url: `${url}/starred{/owner}{/repo}`,
    subscriptions_url: `${url}/subscriptions`,
    organizations_url: `${url}/orgs`,
    repos_url: `${url}/repos`,
    events_url: `${url}/events{/privacy}`,
    received_events_url: `${url}/received_events`,
    type: isBotLogin(login) ? 'Bot' : 'User',
    user_view_type: 'public',
    site_admin: false,
  };
}

/** GET /user: the token's own user with the private fields GitHub shows only to that user (private-user). */
export function authenticatedUserPayload(state: SimulatorState, base: UrlBase, login: string) {
  return {
    ...userPayload(state, base, login),
    user_view_type: 'private',
    name: null,
    company: null,
    blog: '',
    location: null,
    email: null,
    hireable: null,
    bio: null,
    twitter_username: null,
    public_repos: 0,
    public_gists: 0,
    followers: 0,
    following: 0,
    created_at: state.startedAt,
    updated_at: state.startedAt,
    private_gists: 0,
    total_private_repos: 0,
    owned_private_repos: 0,
    disk_usage: 0,
    collaborators: 0,
    two_factor_authentication: true,
  };
}

function repoApiUrl(base: UrlBase, repository: RepositoryRecord): string {
  return `${base.api}/repos/${repository.owner}/${repository.name}`;
}

/** GET /repos/{owner}/{repo} (the description's full-repository), as the authenticated user sees it. */
export function repositoryPayload(state: SimulatorState, base: UrlBase, repository: RepositoryRecord) {
  const openIssues = state.issuesOf(repository).filter((issue) => issue.state === 'open').length;
  const url = repoApiUrl(base, repository);
  const fullName = `${repository.owner}/${repository.name}`;
  const htmlUrl = `${base.web}/${fullName}`;
  const host = new URL(base.web).host;
  return {
    id: repository.id,
    node_id: nodeId('R', repository.id),
    name: repository.name,
    full_name: fullName,
    private: repository.private,
    owner: userPayload(state, base, repository.owner),
    html_url: htmlUrl,
    description: null,
    fork: false,
    url,
    archive_url: `${url}/{archive_format}{/ref}`,
    assignees_url: `${url}/assignees{/user}`,
    blobs_url: `${url}/git/blobs{/sha}`,
    branches_url: `${url}/branches{/branch}`,
    collaborators_url: `${url}/collaborators{/collaborator}`,
    comments_url: `${url}/comments{/number}`,
    commits_url: `${url}/commits{/sha}`,
    compare_url: `${url}/compare/{base}...{head}`,
    contents_url: `${url}/contents/{+path}`,
    contributors_url: `${url}/contributors`,
    deployments_url: `${url}/deployments`,
    downloads_url: `${url}/downloads`,
    events_url: `${url}/events`,
    forks_url: `${url}/forks`,
    git_commits_url: `${url}/git/commits{/sha}`,
    git_refs_url: `${url}/git/refs{/sha}`,
    git_tags_url: `${url}/git/tags{/sha}`,
    git_url: `git://${host}/${fullName}.git`,
    issue_comment_url: `${url}/issues/comments{/number}`,
    issue_events_url: `${url}/issues/events{/number}`,
    issues_url: `${url}/issues{/number}`,
    keys_url: `${url}/keys{/key_id}`,
    labels_url: `${url}/labels{/name}`,
    languages_url: `${url}/languages`,
    merges_url: `${url}/merges`,
    milestones_url: `${url}/milestones{/number}`,
    notifications_url: `${url}/notifications{?since,all,participating}`,
    pulls_url: `${url}/pulls{/number}`,
    releases_url: `${url}/releases{/id}`,
    ssh_url: `git@${host}:${fullName}.git`,
    stargazers_url: `${url}/stargazers`,
    statuses_url: `${url}/statuses/{sha}`,
    subscribers_url: `${url}/subscribers`,
    subscription_url: `${url}/subscription`,
    tags_url: `${url}/tags`,
    teams_url: `${url}/teams`,
    trees_url: `${url}/git/trees{/sha}`,
    clone_url: `${htmlUrl}.git`,
    mirror_url: null,
    hooks_url: `${url}/hooks`,
    svn_url: htmlUrl,
    homepage: null,
    language: null,
    forks_count: 0,
    stargazers_count: 0,
    watchers_count: 0,
    size: 0,
    default_branch: 'main',
    open_issues_count: openIssues,
    is_template: false,
    topics: [...repository.topics],
    has_issues: true,
    has_projects: true,
    has_wiki: true,
    has_pages: false,
    has_downloads: true,
    has_discussions: false,
    archived: repository.archived,
    disabled: false,
    visibility: repository.private ? 'private' : 'public',
    pushed_at: repository.createdAt,
    created_at: repository.createdAt,
    updated_at: repository.updatedAt,
    permissions: { admin: false, maintain: false, push: true, triage: true, pull: true },
    allow_forking: true,
    web_commit_signoff_required: false,
    license: null,
    forks: 0,
    open_issues: openIssues,
    watchers: 0,
    network_count: 0,
    subscribers_count: 0,
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
    author_association: issue.authorAssociation,
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
    author_association: comment.authorAssociation,
    body: comment.body,
    performed_via_github_app: null,
  };
}

export function reactionPayload(state: SimulatorState, base: UrlBase, reaction: ReactionRecord) {
  return {
    id: reaction.id,
    node_id: nodeId('REA', reaction.id),
    user: userPayload(state, base, reaction.user),
    content: reaction.content,
    created_at: reaction.createdAt,
  };
}

export function rateLimitPayload(core: RateLimitState, graphql: RateLimitState) {
  const resource = { limit: core.limit, used: core.used, remaining: core.remaining, reset: core.resetAt };
  return {
    resources: {
      core: resource,
      search: { limit: 30, used: 0, remaining: 30, reset: core.resetAt },
      graphql: { limit: graphql.limit, used: graphql.used, remaining: graphql.remaining, reset: graphql.resetAt },
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
