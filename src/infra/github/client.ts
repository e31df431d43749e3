/**
 * The only door to GitHub: GitHubPort on Octokit, behind one throttle, with
 * every failure classified once (errors.ts) and every payload mapped to our
 * entities (mapping.ts).
 */
import { Octokit } from '@octokit/core';
import type { Comment, Issue, RemoteRepository, RepositoryRef } from '../../domain/entities.js';
import type { CreateCommentOptions, GitHubPort, ListCommentsResult, ListIssuesRequest, ListIssuesResult } from '../../domain/ports.js';
import {
  type RequestDescription,
  abortedRequestError,
  classifyGitHubError,
  malformedBodyError,
  redirectError,
  runawayListingError,
} from './errors.js';
import type { ListScopeIssuesResult, OrganizationLister, RepositorySweeper, ScopeIssueLister } from '../../domain/fleet/ports.js';
import type { DiscoveredRepository, IssueScope, SweepOutcome } from '../../domain/fleet/types.js';
import { linkedSignal } from './abort-link.js';
import * as conversation from './comment-requests.js';
import * as fleet from './fleet-requests.js';
import type { BudgetSnapshot } from './budget.js';
import { hasNextLink, toComment, toComments, toIssue, toIssues, toRemoteRepository } from './mapping.js';
import { type GitHubTelemetry, type HoldReason, RequestThrottle, type ThrottleOptions, type ThrottleStats, withWriteCheck } from './throttle.js';
import { installThrottle } from './throttle-hook.js';
import { describeRequest, etagOf, fullNameOf, type GitHubResponse as Response, refParams, type Transport } from './transport.js';

export interface GitHubClientOptions {
  /** API root, e.g. `https://api.github.com` or `https://HOST/api/v3` (GitHub Enterprise Server). */
  baseUrl: string;
  token: string;
  /** Per request, from sending to the last byte of the body (github.httpClientTimeout). Time held by the throttle does not count. */
  timeoutMs: number;
  /** `autosolve/<version>`. */
  userAgent: string;
  throttle: ThrottleOptions;
  /** Optional observer for metrics and status. Default: none. */
  telemetry?: GitHubTelemetry;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
}

const PER_PAGE = 100;
/**
 * A runaway Link chain must not keep a job busy: 30 pages = 3,000 comments,
 * more than nearly any issue has. The marker check runs twice per answer, so a
 * misbehaving server costs at most 60 requests per issue, then a clear error.
 */
const MAX_COMMENT_PAGES = 30;
const API_VERSION = '2022-11-28';
const silentLog = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

export class GitHubClient implements GitHubPort, OrganizationLister, ScopeIssueLister, RepositorySweeper {
  private readonly octokit: Octokit;
  private readonly throttle: RequestThrottle;
  private readonly token: string;
  private readonly timeoutMs: number;
  private readonly transport: Transport;

  constructor(options: GitHubClientOptions) {
    if (!(options.timeoutMs > 0)) throw new RangeError(`GitHub timeoutMs must be > 0, got ${options.timeoutMs}`);
    this.token = options.token;
    this.timeoutMs = options.timeoutMs;
    this.throttle = new RequestThrottle(options.throttle, options.telemetry);
    this.octokit = new Octokit({
      baseUrl: options.baseUrl.replace(/\/+$/, ''),
      auth: options.token,
      userAgent: options.userAgent,
      log: silentLog,
      request: { ...(options.fetch === undefined ? {} : { fetch: options.fetch }), log: silentLog },
    });
    // Hooks registered later wrap earlier ones: the timeout sits inside the
    // throttle, so waiting for a rate-limit reset never counts as a timeout.
    installTimeout(this.octokit, options.timeoutMs);
    installThrottle(this.octokit, this.throttle);
    this.transport = {
      send: (request, route, params, signal) => this.send(request, route, params, signal),
      jsonBody: (request, response) => this.jsonBody(request, response),
      now: this.throttle.now,
      secrets: [this.token],
    };
  }

  /** Every repository of `org` the token can see, all pages (OrganizationLister). */
  listOrganizationRepositories(org: string, signal: AbortSignal): Promise<{ repositories: DiscoveredRepository[]; skipped: number }> {
    return fleet.listOrganizationRepositories(this.transport, org, signal);
  }

  /** One page of a scope's issue stream (ScopeIssueLister). */
  listScopeIssues(scope: IssueScope, request: ListIssuesRequest, signal: AbortSignal): Promise<ListScopeIssuesResult> {
    return fleet.listScopeIssues(this.transport, scope, request, signal);
  }

  /** One GraphQL query: each repository's newest issue or pull request update (RepositorySweeper). */
  sweep(batch: readonly RepositoryRef[], signal: AbortSignal): Promise<SweepOutcome[]> {
    return fleet.sweep(this.transport, batch, signal);
  }

  /** Every budget of the token (REST and GraphQL points, server time, primary) and its use over the last minute, for the capacity projection and `status`. */
  budget(): BudgetSnapshot {
    return this.throttle.budget();
  }

  /**
   * The daemons spending this token's budgets (at least 1): this client's
   * per-minute budgets and concurrency cap are that part of the configured
   * ones (RequestThrottle.setShare).
   */
  setShare(share: number): void {
    this.throttle.setShare(share);
  }

  /** Holds every request until `until` (epoch ms): a hold another daemon on the token learnt (RequestThrottle.holdUntil). */
  holdUntil(until: number, reason: HoldReason): void {
    this.throttle.holdUntil(until, reason);
  }

  /** Requests sent, 304s, and rate-limit waits so far. */
  stats(): ThrottleStats {
    return this.throttle.stats();
  }

  async getRepository(repo: RepositoryRef, signal: AbortSignal): Promise<RemoteRepository> {
    const request = describeRequest(repo, 'GET', '', `get repository ${fullNameOf(repo)}`, 'it');
    const response = await this.send(request, 'GET /repos/{owner}/{repo}', { ...refParams(repo) }, signal);
    return toRemoteRepository(this.jsonBody(request, response));
  }

  async listIssues(repo: RepositoryRef, cursor: ListIssuesRequest, signal: AbortSignal): Promise<ListIssuesResult> {
    const request = describeRequest(repo, 'GET', '/issues', `list issues of ${fullNameOf(repo)}`, 'it');
    const params: Record<string, unknown> = {
      ...refParams(repo),
      state: 'all',
      sort: 'updated',
      direction: 'asc',
      per_page: PER_PAGE,
      page: cursor.page,
      ...(cursor.since === null ? {} : { since: cursor.since }),
      ...(cursor.etag === null ? {} : { headers: { 'if-none-match': cursor.etag } }),
    };
    const response = await this.send(request, 'GET /repos/{owner}/{repo}/issues', params, signal);
    if (response.status === 304) return { notModified: true };
    const { issues, skipped } = toIssues(this.jsonBody(request, response));
    return { notModified: false, issues, skipped, hasNextPage: hasNextLink(response.headers.link), etag: etagOf(response) };
  }

  /** One page of the repository's comments, updated ascending (RepositoryCommentLister). */
  listRepositoryComments(repo: RepositoryRef, cursor: ListIssuesRequest, signal: AbortSignal): Promise<ListCommentsResult> {
    return conversation.listRepositoryComments(this.transport, repo, cursor, signal);
  }

  /** A reaction to an issue comment, paced as a write (CommentReactor). */
  addReaction(repo: RepositoryRef, commentId: number, content: 'eyes', signal: AbortSignal): Promise<void> {
    return conversation.addReaction(this.transport, repo, commentId, content, signal);
  }

  async getIssue(repo: RepositoryRef, number: number, signal: AbortSignal): Promise<Issue> {
    assertIssueNumber(repo, number);
    const request = describeRequest(repo, 'GET', `/issues/${number}`, `get issue #${number} of ${fullNameOf(repo)}`, `issue #${number}`);
    const response = await this.send(
      request,
      'GET /repos/{owner}/{repo}/issues/{issue_number}',
      { ...refParams(repo), issue_number: number },
      signal,
    );
    return toIssue(this.jsonBody(request, response));
  }

  async listComments(repo: RepositoryRef, number: number, signal: AbortSignal): Promise<Comment[]> {
    assertIssueNumber(repo, number);
    const request = describeRequest(
      repo,
      'GET',
      `/issues/${number}/comments`,
      `list comments of issue #${number} of ${fullNameOf(repo)}`,
      `issue #${number}`,
    );
    // Our own page loop rather than octokit.paginate: its iterator drops
    // `request.signal` after the first page, and every page must be abortable.
    // Every exit is bounded: an empty page ends the list whatever the Link
    // header says, and a repeated page or too many pages is an error rather
    // than a partial list (a marker beyond what we read would be missed).
    const comments: Comment[] = [];
    let previous = '';
    for (let page = 1; ; page++) {
      const response = await this.send(
        request,
        'GET /repos/{owner}/{repo}/issues/{issue_number}/comments',
        { ...refParams(repo), issue_number: number, per_page: PER_PAGE, page },
        signal,
      );
      const batch = toComments(this.jsonBody(request, response));
      if (batch.length === 0) break;
      const signature = batch.map((comment) => comment.githubId).join(',');
      if (signature === previous) {
        throw runawayListingError(request, `GitHub answered page ${page} with the same comments as page ${page - 1}`, response.status);
      }
      previous = signature;
      comments.push(...batch);
      if (!hasNextLink(response.headers.link)) break;
      if (page >= MAX_COMMENT_PAGES) {
        throw runawayListingError(request, `GitHub still announced more comments after ${MAX_COMMENT_PAGES} pages (${comments.length} comments)`, response.status);
      }
    }
    return comments;
  }

  async createComment(
    repo: RepositoryRef,
    number: number,
    body: string,
    signal: AbortSignal,
    options: CreateCommentOptions = {},
  ): Promise<Comment> {
    assertIssueNumber(repo, number);
    const request = describeRequest(
      repo,
      'POST',
      `/issues/${number}/comments`,
      `comment on issue #${number} of ${fullNameOf(repo)}`,
      `issue #${number}`,
    );
    const send = () =>
      this.send(request, 'POST /repos/{owner}/{repo}/issues/{issue_number}/comments', { ...refParams(repo), issue_number: number, body }, signal);
    const { beforeWrite } = options;
    if (beforeWrite === undefined) return toComment(this.jsonBody(request, await send()));
    // The check's own error, exactly as thrown: it is the caller's, not GitHub's to classify.
    let refusal: { error: unknown } | undefined;
    const check = async (checkSignal: AbortSignal): Promise<void> => {
      try {
        await beforeWrite(checkSignal);
      } catch (error) {
        refusal = { error };
        throw error;
      }
    };
    let response: Response;
    try {
      response = await withWriteCheck(check, send);
    } catch (error) {
      throw refusal === undefined ? error : refusal.error;
    }
    return toComment(this.jsonBody(request, response));
  }

  async updateComment(repo: RepositoryRef, commentId: number, body: string, signal: AbortSignal): Promise<Comment> {
    const request = describeRequest(
      repo,
      'PATCH',
      `/issues/comments/${commentId}`,
      `edit comment ${commentId} of ${fullNameOf(repo)}`,
      `comment ${commentId}`,
    );
    const response = await this.send(
      request,
      'PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}',
      { ...refParams(repo), comment_id: commentId, body },
      signal,
    );
    return toComment(this.jsonBody(request, response));
  }

  /** One request; a 304 comes back as a response, every failure as a classified error. */
  private async send(
    request: RequestDescription,
    route: string,
    params: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<Response> {
    if (signal.aborted) throw abortedRequestError(request);
    const link = linkedSignal(signal);
    try {
      const headers = { 'x-github-api-version': API_VERSION, ...(params.headers as Record<string, string> | undefined) };
      const response = await this.octokit.request(route, { ...params, headers, request: { signal: link.signal } });
      // Octokit hands back any status below 400 as a success; fetch already
      // followed the redirects it could (a renamed repository's 301).
      if (response.status >= 300 && response.status < 400) throw redirectError(request, response.status, response.headers);
      return { status: response.status, headers: response.headers, data: response.data as unknown };
    } catch (error) {
      const notModified = notModifiedResponse(error);
      if (notModified !== undefined && !signal.aborted) return notModified;
      throw classifyGitHubError(error, request, {
        callerSignal: signal,
        now: this.throttle.now(),
        timeoutMs: this.timeoutMs,
        secrets: [this.token],
      });
    } finally {
      link.unlink();
    }
  }

  /** Octokit hands over a body it could not parse as a string: cut or mangled in transit. */
  private jsonBody(request: RequestDescription, response: Response): unknown {
    if (typeof response.data !== 'object' || response.data === null) {
      throw malformedBodyError(request, response.status, response.headers);
    }
    return response.data;
  }
}

/** Nothing is ever read from or posted to issue 0 or -1, whatever a server or an old database says. */
function assertIssueNumber(repo: RepositoryRef, number: number): void {
  if (!Number.isSafeInteger(number) || number <= 0) {
    throw new RangeError(`refusing to use issue number ${number} of ${fullNameOf(repo)}: issue numbers are positive integers`);
  }
}

function notModifiedResponse(error: unknown): Response | undefined {
  if (typeof error !== 'object' || error === null || (error as { status?: unknown }).status !== 304) return undefined;
  const response = (error as { response?: { headers?: Response['headers'] } }).response;
  return { status: 304, headers: response?.headers ?? {}, data: null };
}

/**
 * Bounds each request by `timeoutMs` once the throttle has let it through.
 * A controller and a timer cleared in `finally` rather than AbortSignal.any +
 * AbortSignal.timeout: those keep a timer alive for timeoutMs after every
 * request, and the signal here is already the request's own (see send).
 */
function installTimeout(octokit: Octokit, timeoutMs: number): void {
  octokit.hook.wrap('request', async (request, options) => {
    const caller = options.request?.signal;
    const controller = new AbortController();
    const onCallerAbort = (): void => controller.abort(caller?.reason);
    if (caller?.aborted) onCallerAbort();
    else caller?.addEventListener('abort', onCallerAbort, { once: true });
    const timer = setTimeout(
      () => controller.abort(new DOMException(`no response within ${timeoutMs} ms`, 'TimeoutError')),
      timeoutMs,
    );
    // Replaced in place, not passed as new options: before-after-hook binds
    // every hook to the same options object, so the hooks inside this one
    // (Octokit's auth, then fetch) only ever see changes made to it.
    options.request = { ...options.request, signal: controller.signal };
    try {
      return await request(options);
    } finally {
      clearTimeout(timer);
      caller?.removeEventListener('abort', onCallerAbort);
    }
  });
}
