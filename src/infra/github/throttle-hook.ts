/**
 * The throttle's place in Octokit: the outermost request hook, which admits
 * every request, tells the throttle what each response said, and releases it.
 */
import type { Octokit } from '@octokit/core';
import type { ResponseHeaders } from './rate-limit-signals.js';
import type { RequestThrottle } from './throttle.js';

export interface ResponseLike {
  status: number;
  headers: ResponseHeaders;
  data?: unknown;
}

/** The HTTP response an Octokit error carries, if a response arrived at all. */
export function responseOfError(error: unknown): ResponseLike | undefined {
  if (typeof error !== 'object' || error === null || !('response' in error)) return undefined;
  const response = (error as { response: unknown }).response;
  if (typeof response !== 'object' || response === null) return undefined;
  const { status, headers } = response as { status?: unknown; headers?: unknown };
  if (typeof status !== 'number' || typeof headers !== 'object' || headers === null) return undefined;
  return { status, headers: headers as ResponseHeaders, data: (response as { data?: unknown }).data };
}

/**
 * Puts `throttle` in front of every request `octokit` sends. Register it after
 * any other request hook so it is the outermost one: time spent held here is
 * not part of a request's timeout.
 */
export function installThrottle(octokit: Octokit, throttle: RequestThrottle): void {
  octokit.hook.wrap('request', async (request, options) => {
    const method = String(options.method);
    const route = `${method} ${String(options.url)}`;
    const release = await throttle.admit({ method, url: String(options.url), query: (options as { query?: unknown }).query }, options.request?.signal);
    const startedAt = throttle.now();
    try {
      const response = await request(options);
      throttle.observe({ method, route, ...response, durationMs: throttle.now() - startedAt });
      return response;
    } catch (error) {
      const response = responseOfError(error);
      if (response) throttle.observe({ method, route, ...response, durationMs: throttle.now() - startedAt });
      throw error;
    } finally {
      release();
    }
  });
}
