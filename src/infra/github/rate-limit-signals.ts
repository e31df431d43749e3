/**
 * What a GitHub response says about rate limits, read once so that the throttle
 * (which holds later requests) and the error mapping (which gives the failed
 * request its wait hint) can never disagree.
 *
 * Times are read on GitHub's clock: `x-ratelimit-reset` minus the same
 * response's `Date` is how long to wait, whatever this machine's clock says.
 * A local clock minutes ahead would otherwise send requests into a spent
 * window, and one minutes behind would hold for the skew on top of the wait.
 */

/** Response headers as Octokit hands them over (lower-case names). */
export type ResponseHeaders = Readonly<Record<string, string | number | undefined>>;

/** GitHub's wording for a secondary rate limit ("You have exceeded a secondary rate limit ..."). */
const SECONDARY_LIMIT_MESSAGE = /secondary rate limit|abuse detection/i;

export interface RateLimitHeaders {
  readonly limit: number;
  readonly remaining: number;
  /** Epoch seconds. */
  readonly resetAt: number;
  readonly resource: string;
}

export type RateLimitSignal =
  /** The primary budget is spent until `resetAtMs`, on this machine's clock (see localResetAtMs). */
  | { readonly kind: 'primary'; readonly resetAtMs: number }
  /** A `retry-after` header (any 403/429, secondary limit or not). */
  | { readonly kind: 'retry-after'; readonly waitMs: number }
  /** GitHub's secondary-limit message (or a bare 429) without a header saying how long. */
  | { readonly kind: 'secondary' };

function headerValue(headers: ResponseHeaders, name: string): string | undefined {
  const value = headers[name];
  return value === undefined ? undefined : String(value);
}

function integerHeader(headers: ResponseHeaders, name: string): number | undefined {
  const raw = headerValue(headers, name);
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

/** The x-ratelimit-* headers, when the response carries all of them. */
export function readRateLimitHeaders(headers: ResponseHeaders): RateLimitHeaders | undefined {
  const limit = integerHeader(headers, 'x-ratelimit-limit');
  const remaining = integerHeader(headers, 'x-ratelimit-remaining');
  const resetAt = integerHeader(headers, 'x-ratelimit-reset');
  if (limit === undefined || remaining === undefined || resetAt === undefined) return undefined;
  return { limit, remaining, resetAt, resource: headerValue(headers, 'x-ratelimit-resource') ?? 'core' };
}

/** The response's `Date` (when GitHub produced it, on GitHub's clock), in epoch ms; undefined when absent or unreadable. */
export function serverDateOf(headers: ResponseHeaders): number | undefined {
  const raw = headerValue(headers, 'date');
  if (raw === undefined || raw.trim() === '') return undefined;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : date;
}

/**
 * `epochMs` on GitHub's clock, moved onto ours (`now` is our clock when the
 * response arrived). The `Date` header has whole seconds and is stamped
 * before the response travels, so the error only ever lengthens a wait, by at
 * most a second plus the latency: the safe side. Without a `Date`, our clock
 * is all there is.
 */
export function toLocalTime(epochMs: number, headers: ResponseHeaders, now: number): number {
  const serverNow = serverDateOf(headers);
  return serverNow === undefined ? epochMs : now + (epochMs - serverNow);
}

/** When `x-ratelimit-reset` falls on this machine's clock, in epoch ms. */
export function localResetAtMs(rateLimit: RateLimitHeaders, headers: ResponseHeaders, now: number): number {
  return toLocalTime(rateLimit.resetAt * 1000, headers, now);
}

/** `retry-after` in milliseconds: delta-seconds or an HTTP date (RFC 9110), the date read against the response's own `Date`. */
export function readRetryAfterMs(headers: ResponseHeaders, now: number): number | undefined {
  const raw = headerValue(headers, 'retry-after');
  if (raw === undefined || raw.trim() === '') return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, toLocalTime(date, headers, now) - now);
}

/** GitHub's `message` from an error body, if there is one. */
export function gitHubMessageOf(data: unknown): string | undefined {
  if (typeof data === 'object' && data !== null && 'message' in data) {
    const message = (data as { message: unknown }).message;
    if (typeof message === 'string') return message;
  }
  return undefined;
}

/**
 * The rate-limit signal of a response, following GitHub's advice for REST
 * (docs: "Rate limits for the REST API", "Exceeding the rate limit"): a
 * `retry-after` header wins; then `x-ratelimit-remaining: 0` means wait until
 * `x-ratelimit-reset`; then a secondary-limit message (or a 429) means wait at
 * least a minute. A 403 with none of these is a permission problem, not a limit.
 * `now` is this machine's clock as the response arrived.
 */
export function rateLimitSignalOf(
  status: number,
  headers: ResponseHeaders,
  data: unknown,
  now: number,
): RateLimitSignal | undefined {
  if (status !== 403 && status !== 429) return undefined;
  const retryAfterMs = readRetryAfterMs(headers, now);
  if (retryAfterMs !== undefined) return { kind: 'retry-after', waitMs: retryAfterMs };
  const rateLimit = readRateLimitHeaders(headers);
  if (rateLimit !== undefined && rateLimit.remaining === 0) {
    return { kind: 'primary', resetAtMs: localResetAtMs(rateLimit, headers, now) };
  }
  const message = gitHubMessageOf(data) ?? (typeof data === 'string' ? data : '');
  if (status === 429 || SECONDARY_LIMIT_MESSAGE.test(message)) return { kind: 'secondary' };
  return undefined;
}
