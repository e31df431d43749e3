/**
 * Failure facts shared by the AI adapters. Backend trouble (unreachable,
 * overloaded) is `node`/`service` so the dispatcher puts the job back without
 * spending an attempt; anything about this particular run is `permanent`.
 */
import { ClassifiedError } from '../../domain/failure.js';

/** `300000` → `5m`, `1500` → `1.5s`, `250` → `250ms`: for messages people read. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const units: ReadonlyArray<readonly [number, string]> = [
    [3_600_000, 'h'],
    [60_000, 'm'],
    [1000, 's'],
  ];
  for (const [size, unit] of units) {
    if (ms >= size) {
      const value = ms / size;
      return `${Number.isInteger(value) ? value : value.toFixed(1)}${unit}`;
    }
  }
  return `${ms}ms`;
}

/**
 * The error a run surfaces when the caller's signal aborted it. Named
 * `AbortError` so `isAbort()` recognises it and the job is released, not failed.
 */
export function abortError(what: string): Error {
  const error = new Error(`${what} was aborted by shutdown`);
  error.name = 'AbortError';
  return error;
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** What an operator should check when a model server refuses the daemon itself, in its configuration keys. */
export interface StatusAdvice {
  /** After a 401/403, e.g. `check ai.openai.apiKey`. */
  readonly credential: string;
  /** After a 404, e.g. `check ollama.model (ollama pull MODEL) and ollama.endpoint`. */
  readonly configuration: string;
}

/**
 * Classifies an HTTP error status from a model server: 429 and 5xx mean the
 * backend is under pressure (service, with the server's wait hint); 401/403
 * (the key or a proxy's credentials refused) and 404 (no such model, or no chat
 * API at that address) mean no job can succeed until the configuration changes,
 * so they pause work; any other status means this request cannot succeed as
 * sent (permanent, the job's).
 */
export function httpStatusError(
  who: string,
  status: number,
  detail: string,
  retryAfter: string | null | undefined,
  advice?: StatusAdvice,
): ClassifiedError {
  const suffix = detail ? `: ${clip(detail, 300)}` : '';
  if (status === 429 || status >= 500) {
    const waitMs = retryAfterMs(retryAfter);
    const message = `${who} answered HTTP ${status}${suffix}`;
    return new ClassifiedError('service', message, waitMs === undefined ? {} : { waitMs });
  }
  if (advice !== undefined && (status === 401 || status === 403)) {
    const message = `${who} refused the credentials with HTTP ${status}${suffix}; ${advice.credential}`;
    return new ClassifiedError('permanent', message, { pausesWork: 'credential' });
  }
  if (advice !== undefined && status === 404) {
    const message = `${who}: the server has no such model or API (HTTP 404${suffix}); ${advice.configuration}`;
    return new ClassifiedError('permanent', message, { pausesWork: 'configuration' });
  }
  return new ClassifiedError('permanent', `${who} rejected the request with HTTP ${status}${suffix}`);
}

/** The request ran past our own deadline: this run failed, an attempt is spent. */
export function timeoutError(who: string, timeoutMs: number): ClassifiedError {
  return new ClassifiedError('permanent', `${who} did not answer within ${formatDuration(timeoutMs)}`);
}

/** An address for messages: scheme, host and path, without user info or query (they may hold credentials). */
export function safeAddress(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

/** Shortens text for a message, keeping the start. */
export function clip(text: string, max: number): string {
  const single = text.replace(/\s+/g, ' ').trim();
  return single.length <= max ? single : `${single.slice(0, max)}…`;
}

/** Removes every occurrence of a secret from text (no-op for an empty secret). */
export function redact(text: string, secret: string): string {
  return secret ? text.split(secret).join('[redacted]') : text;
}
