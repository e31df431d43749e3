/**
 * Every GitHub failure is classified once, here (docs/architecture.md, "Errors and
 * retry live in one place"). The errors made here keep no reference to
 * Octokit's error: that one carries the request, headers included, and the
 * token must never reach a message, a log line or the database.
 */
import { ClassifiedError, type FailureKind, type PauseReason } from '../../domain/failure.js';
import { type ResponseHeaders, gitHubMessageOf, localResetAtMs, rateLimitSignalOf, readRateLimitHeaders, readRetryAfterMs } from './rate-limit-signals.js';
import { responseOfError } from './throttle-hook.js';

/** What we were doing, in words a user can act on. */
export interface RequestDescription {
  readonly method: string;
  /** The concrete path without query, e.g. `/repos/acme/api/issues`. */
  readonly path: string;
  /** e.g. `list issues of acme/api`. */
  readonly operation: string;
  /** `owner/name`. */
  readonly repository: string;
  /** What may not exist, for 404s: `it` (the repository), `issue #5`, `comment 42`. */
  readonly subject: string;
}

export interface ClassifyContext {
  /** The caller's signal: when it fired, the failure is our own abort. */
  readonly callerSignal: AbortSignal;
  /** Epoch ms, for wait hints from x-ratelimit-reset. */
  readonly now: number;
  readonly timeoutMs: number;
  /** Strings that must never appear in a message (the token). */
  readonly secrets: readonly string[];
}

/** How long to wait after a secondary limit that did not say (GitHub: "at least one minute"). */
export const SECONDARY_DEFAULT_WAIT_MS = 60_000;
const MAX_GITHUB_MESSAGE = 300;

export interface GitHubRequestErrorDetails {
  readonly status: number | null;
  readonly method: string;
  readonly path: string;
  readonly requestId: string | null;
  readonly waitMs?: number;
  /** The token itself is refused or lacks a permission: no job can succeed until an operator acts. */
  readonly pausesWork?: PauseReason;
}

/** A classified GitHub failure: plain facts, no request headers, no cause. */
export class GitHubRequestError extends ClassifiedError {
  /** HTTP status, or null when no response arrived. */
  readonly status: number | null;
  readonly method: string;
  readonly path: string;
  /** GitHub's x-github-request-id, for support requests. */
  readonly requestId: string | null;

  constructor(kind: FailureKind, message: string, details: GitHubRequestErrorDetails) {
    super(kind, message, {
      ...(details.waitMs === undefined ? {} : { waitMs: details.waitMs }),
      ...(details.pausesWork === undefined ? {} : { pausesWork: details.pausesWork }),
    });
    this.name = 'GitHubRequestError';
    this.status = details.status;
    this.method = details.method;
    this.path = details.path;
    this.requestId = details.requestId;
  }
}

/** Our caller aborted (shutdown): not a failure of GitHub or the network. */
export function abortedRequestError(request: RequestDescription): Error {
  const error = new Error(`${request.operation}: aborted`);
  error.name = 'AbortError';
  return error;
}

/**
 * A 2xx whose body was not the JSON we asked for. With a JSON content type the
 * body was cut or mangled in transit (retry soon); with another one something
 * that is not GitHub's API answered (a proxy's login page, a wrong baseUrl),
 * and retrying will not change that.
 */
export function malformedBodyError(request: RequestDescription, status: number, headers: ResponseHeaders): GitHubRequestError {
  const details = { status, method: request.method, path: request.path, requestId: requestIdOf(headers) };
  const type = contentTypeOf(headers);
  if (type !== null && /^application\/(?:[\w.+-]+\+)?json\b/i.test(type)) {
    return new GitHubRequestError('node', `${request.operation}: GitHub's response body was malformed or truncated (HTTP ${status}, ${type})`, details);
  }
  return new GitHubRequestError(
    'permanent',
    `${request.operation}: the answer was not JSON (HTTP ${status}, content-type ${type ?? 'none'}); ` +
      'something other than GitHub\'s API answered: check github.baseUrl and any proxy in between',
    details,
  );
}

/**
 * A 3xx other than 304 that fetch did not follow (no usable `Location`, or a
 * redirect the transport would not take): reported as what it is, not as a
 * body of the wrong shape.
 */
export function redirectError(request: RequestDescription, status: number, headers: ResponseHeaders): GitHubRequestError {
  const location = headers.location;
  const where = location === undefined ? 'no Location header' : `Location: ${String(location)}`;
  return new GitHubRequestError(
    'permanent',
    `${request.operation}: GitHub answered HTTP ${status} (${where}, content-type ${contentTypeOf(headers) ?? 'none'}) instead of data; ` +
      `if ${request.repository} was renamed or transferred, configure its new name; otherwise check github.baseUrl`,
    { status, method: request.method, path: request.path, requestId: requestIdOf(headers) },
  );
}

/**
 * A paged listing that does not make progress: `rel="next"` with the same page
 * again, or more pages than any real listing has. The pass stops instead of
 * looping; retrying soon would only repeat it.
 */
export function runawayListingError(request: RequestDescription, what: string, status: number | null): GitHubRequestError {
  return new GitHubRequestError(
    'permanent',
    `${request.operation}: ${what}; a proxy or server in between may be mangling pagination (check github.baseUrl)`,
    { status, method: request.method, path: request.path, requestId: null },
  );
}

function contentTypeOf(headers: ResponseHeaders): string | null {
  const type = headers['content-type'];
  return type === undefined ? null : String(type);
}

/**
 * A 403 that is not a rate limit (checked before) and says the token lacks a
 * permission, as GitHub documents it: "Resource not accessible by personal
 * access token / by integration" (fine-grained tokens, apps), SAML SSO not
 * authorized (`x-github-sso`), or a classic token whose `x-oauth-scopes` hold
 * none of the `x-accepted-oauth-scopes`. Other 403s (a locked issue, an archived
 * repository) are about one job and stay its failure.
 */
function lacksPermission(headers: ResponseHeaders, said: string): boolean {
  if (headers['x-github-sso'] !== undefined) return true;
  if (/not accessible by|access to (this )?repository not granted|saml enforcement|oauth scope/i.test(said)) return true;
  const scopes = (name: string) => String(headers[name] ?? '').split(',').map((scope) => scope.trim()).filter((scope) => scope !== '');
  const accepted = scopes('x-accepted-oauth-scopes');
  return headers['x-oauth-scopes'] !== undefined && accepted.length > 0 && !accepted.some((scope) => scopes('x-oauth-scopes').includes(scope));
}

function requestIdOf(headers: ResponseHeaders): string | null {
  const id = headers['x-github-request-id'];
  return id === undefined ? null : String(id);
}

export function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (secret.length > 0) result = result.split(secret).join('[REDACTED]');
  }
  return result;
}

/**
 * Maps any failure of a GitHub request to what the scheduler needs. Unknown
 * errors that did not come from Octokit (bugs) pass through untouched.
 */
export function classifyGitHubError(error: unknown, request: RequestDescription, context: ClassifyContext): Error {
  if (context.callerSignal.aborted) return abortedRequestError(request);
  if (error instanceof GitHubRequestError) return error;
  const response = responseOfError(error);
  if (response === undefined) {
    if (!isOctokitTransportError(error)) return error instanceof Error ? error : new Error(String(error));
    return transportError(error, request, context);
  }
  return responseError(response.status, response.headers, response.data, request, context);
}

/** Octokit turns a failed fetch into a RequestError (status 500, no response) or rethrows fetch's AbortError. */
function isOctokitTransportError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error.name === 'HttpError' || error.name === 'AbortError' || error.name === 'TimeoutError';
}

function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = error;
  while (current !== undefined && current !== null && chain.length < 8) {
    chain.push(current);
    current = typeof current === 'object' && 'cause' in current ? (current as { cause: unknown }).cause : undefined;
  }
  return chain;
}

function transportError(error: unknown, request: RequestDescription, context: ClassifyContext): GitHubRequestError {
  const chain = causeChain(error);
  const details = { status: null, method: request.method, path: request.path, requestId: null };
  // The caller's signal did not fire, so an abort inside fetch can only be our timeout.
  if (chain.some((link) => link instanceof Error && (link.name === 'TimeoutError' || link.name === 'AbortError'))) {
    return new GitHubRequestError('node', `${request.operation}: no answer from GitHub within ${context.timeoutMs} ms`, details);
  }
  const codes = new Set<string>();
  let deepest = '';
  for (const link of chain) {
    if (typeof link !== 'object' || link === null) continue;
    const code = (link as { code?: unknown }).code;
    if (typeof code === 'string') codes.add(code);
    const message = (link as { message?: unknown }).message;
    if (typeof message === 'string' && message !== '') deepest = message;
  }
  const reason = [...codes, deepest].filter((part) => part !== '').join(': ') || 'connection failed';
  return new GitHubRequestError(
    'node',
    redact(`${request.operation}: could not reach GitHub (${reason})`, context.secrets),
    details,
  );
}

function gitHubDetail(data: unknown): string {
  let text = gitHubMessageOf(data) ?? (typeof data === 'string' ? data : '');
  if (typeof data === 'object' && data !== null && Array.isArray((data as { errors?: unknown }).errors)) {
    text += ` ${JSON.stringify((data as { errors: unknown[] }).errors)}`;
  }
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > MAX_GITHUB_MESSAGE ? `${text.slice(0, MAX_GITHUB_MESSAGE)}...` : text;
}

function responseError(
  status: number,
  headers: ResponseHeaders,
  data: unknown,
  request: RequestDescription,
  context: ClassifyContext,
): GitHubRequestError {
  const details = { status, method: request.method, path: request.path, requestId: requestIdOf(headers) };
  const said = gitHubDetail(data);
  const saying = said === '' ? '' : `: ${said}`;
  const make = (kind: FailureKind, message: string, waitMs?: number): GitHubRequestError =>
    new GitHubRequestError(
      kind,
      redact(message, context.secrets),
      waitMs === undefined ? details : { ...details, waitMs: Math.max(0, Math.round(waitMs)) },
    );

  const limit = rateLimitSignalOf(status, headers, data, context.now);
  if (limit?.kind === 'primary') {
    const resetsAt = new Date(limit.resetAtMs).toISOString();
    return make('service', `${request.operation}: GitHub's rate limit for the token is spent until ${resetsAt} (HTTP ${status})`, limit.resetAtMs - context.now);
  }
  if (limit !== undefined) {
    const waitMs = limit.kind === 'retry-after' ? limit.waitMs : SECONDARY_DEFAULT_WAIT_MS;
    return make('service', `${request.operation}: GitHub's secondary rate limit, wait ${Math.ceil(waitMs / 1000)} s (HTTP ${status})`, waitMs);
  }
  // Bad or revoked token, or one without a permission it needs: every job would
  // fail the same way, so these pause the dispatcher instead of spending attempts.
  if (status === 401) {
    return new GitHubRequestError('permanent', redact(`GitHub rejected the token (401 Bad credentials): check github.token (${request.operation})`, context.secrets), { ...details, pausesWork: 'credential' });
  }
  if (status === 403 && lacksPermission(headers, said)) {
    const asked = headers['x-accepted-github-permissions'];
    return new GitHubRequestError(
      'permanent',
      redact(
        `${request.operation}: GitHub refused (403${saying}): the token cannot access ${request.repository} or lacks the permission` +
          `${asked === undefined ? '' : ` (GitHub asks for ${String(asked)})`}; give it read access to issues and write access to post comments ` +
          '(fine-grained: Issues read and write; classic: repo, or public_repo for public repositories; SSO: authorize it for the organization)',
        context.secrets,
      ),
      { ...details, pausesWork: 'permission' },
    );
  }
  if (status === 403) {
    return make(
      'permanent',
      `${request.operation}: GitHub refused (403${saying}): the token cannot access ${request.repository} or lacks the permission; ` +
        'give it read access to issues (and write access to post comments)',
    );
  }
  if (status === 404 || status === 410) {
    const missing = request.subject === 'it' ? 'it does not exist' : `${request.subject} does not exist there`;
    return make(
      'permanent',
      `${request.operation}: GitHub answered ${status}: the token cannot see ${request.repository}, or ${missing}; ` +
        'check the repository name in the configuration and the token\'s access',
    );
  }
  if (status >= 500) {
    return make('service', `${request.operation}: GitHub failed (HTTP ${status}${saying})`, readRetryAfterMs(headers, context.now));
  }
  return make('permanent', `${request.operation}: GitHub rejected the request (HTTP ${status}${saying})`);
}

/**
 * A GraphQL query GitHub answered (HTTP 200) with errors and no data: the
 * query failed as a whole. RATE_LIMITED waits for the graphql budget's reset;
 * anything else is GitHub under pressure or a query too big for it, for the
 * caller to retry gently (or split).
 */
export function graphqlQueryError(
  request: RequestDescription,
  status: number,
  headers: ResponseHeaders,
  errors: ReadonlyArray<{ readonly type?: string | undefined; readonly message: string }>,
  context: Pick<ClassifyContext, 'now' | 'secrets'>,
): GitHubRequestError {
  const details = { status, method: request.method, path: request.path, requestId: requestIdOf(headers) };
  const said = errors.slice(0, 3).map((error) => `${error.type ?? 'error'}: ${error.message}`).join('; ');
  const text = said.length > MAX_GITHUB_MESSAGE ? `${said.slice(0, MAX_GITHUB_MESSAGE)}...` : said;
  if (errors.some((error) => error.type === 'RATE_LIMITED')) {
    const rateLimit = readRateLimitHeaders(headers);
    const waitMs = rateLimit === undefined ? SECONDARY_DEFAULT_WAIT_MS : Math.max(0, localResetAtMs(rateLimit, headers, context.now) - context.now);
    return new GitHubRequestError('service', redact(`${request.operation}: GitHub's GraphQL rate limit (${text})`, context.secrets), { ...details, waitMs: Math.round(waitMs) });
  }
  return new GitHubRequestError('service', redact(`${request.operation}: GitHub failed the query (${text})`, context.secrets), details);
}
