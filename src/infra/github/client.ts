/**
 * The only door to GitHub: GitHubPort on Octokit, behind one throttle, with
 * every failure classified once (errors.ts) and every payload mapped to our
 * entities (mapping.ts).
 */
import { Octokit } from '@octokit/core';
import type { Comment, Issue, RemoteRepository, RepositoryRef } from '../../domain/entities.js';
import type { CreateCommentOptions, GitHubPort, ListIssuesRequest, ListIssuesResult } from '../../domain/ports.js';
import {
  type RequestDescription,
  abortedRequestError,
  classifyGitHubError,
  malformedBodyError,
} from './errors.js';
import { linkedSignal } from './abort-link.js';
import { hasNextLink, toComment, toComments, toIssue, toIssues, toRemoteRepository } from './mapping.js';
import { type GitHubTelemetry, RequestThrottle, type ThrottleOptions, type ThrottleStats, installThrottle } from './throttle.js';

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
/** A runaway Link chain must not keep a job busy forever: 100 pages = 10,000 comments. */
const MAX_COMMENT_PAGES = 100;
const API_VERSION = '2022-11-28';
const silentLog = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

interface Response {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | number | undefined>>;
  readonly data: unknown;
}

export class GitHubClient implements GitHubPort {
  private readonly octokit: Octokit;
  private readonly throttle: RequestThrottle;
  private readonly token: string;
  private readonly timeoutMs: number;

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
    const etag = response.headers.etag;
    return {
      notModified: false,
      issues: toIssues(this.jsonBody(request, response)),
      hasNextPage: hasNextLink(response.headers.link),
      etag: etag === undefined ? null : String(etag),
    };
  }

  async getIssue(repo: RepositoryRef, number: number, signal: AbortSignal): Promise<Issue> {
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
    const request = describeRequest(
      repo,
      'GET',
      `/issues/${number}/comments`,
      `list comments of issue #${number} of ${fullNameOf(repo)}`,
      `issue #${number}`,
    );
    // Our own page loop rather than octokit.paginate: its iterator drops
    // `request.signal` after the first page, and every page must be abortable.
    const comments: Comment[] = [];
    for (let page = 1; page <= MAX_COMMENT_PAGES; page++) {
      const response = await this.send(
        request,
        'GET /repos/{owner}/{repo}/issues/{issue_number}/comments',
        { ...refParams(repo), issue_number: number, per_page: PER_PAGE, page },
        signal,
      );
      comments.push(...toComments(this.jsonBody(request, response)));
      if (!hasNextLink(response.headers.link)) break;
    }
    return comments;
  }

  async createComment(repo: RepositoryRef, number: number, body: string, signal: AbortSignal, options?: CreateCommentOptions): Promise<Comment> {
    const request = describeRequest(
      repo,
      'POST',
      `/issues/${number}/comments`,
      `comment on issue #${number} of ${fullNameOf(repo)}`,
      `issue #${number}`,
    );
    // Minimal: the throttle-side placement (after the write is admitted) comes with the rate-limit work.
    await options?.beforeWrite?.(signal);
    const response = await this.send(
      request,
      'POST /repos/{owner}/{repo}/issues/{issue_number}/comments',
      { ...refParams(repo), issue_number: number, body },
      signal,
    );
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

function notModifiedResponse(error: unknown): Response | undefined {
  if (typeof error !== 'object' || error === null || (error as { status?: unknown }).status !== 304) return undefined;
  const response = (error as { response?: { headers?: Response['headers'] } }).response;
  return { status: 304, headers: response?.headers ?? {}, data: null };
}

function fullNameOf(repo: RepositoryRef): string {
  return `${repo.owner}/${repo.name}`;
}

function refParams(repo: RepositoryRef): { owner: string; repo: string } {
  return { owner: repo.owner, repo: repo.name };
}

function describeRequest(repo: RepositoryRef, method: string, suffix: string, operation: string, subject: string): RequestDescription {
  return {
    method,
    path: `/repos/${encodeURIComponent(repo.owner)}/${encodeURIComponent(repo.name)}${suffix}`,
    operation,
    repository: fullNameOf(repo),
    subject,
  };
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
