/**
 * The client's one door as the request modules see it (fleet-requests.ts, comment-requests.ts): a request
 * sent through the throttle with every failure classified, the body check, and how a request about a
 * repository is described in errors.
 */
import type { RepositoryRef } from '../../domain/entities.js';
import type { RequestDescription } from './errors.js';

export interface GitHubResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | number | undefined>>;
  readonly data: unknown;
}

/** The client's door: one request, classified failures; and its body check. */
export interface Transport {
  /** A 304 comes back as a response; every failure as a classified error. */
  send(request: RequestDescription, route: string, params: Record<string, unknown>, signal: AbortSignal): Promise<GitHubResponse>;
  /** The parsed JSON body; a body that is not JSON (cut or mangled in transit) is an error. */
  jsonBody(request: RequestDescription, response: GitHubResponse): unknown;
  readonly now: () => number;
  readonly secrets: readonly string[];
}

export function fullNameOf(repo: RepositoryRef): string {
  return `${repo.owner}/${repo.name}`;
}

export function refParams(repo: RepositoryRef): { owner: string; repo: string } {
  return { owner: repo.owner, repo: repo.name };
}

/** `suffix` is the path below the repository; `subject` names what the request is about in error messages. */
export function describeRequest(repo: RepositoryRef, method: string, suffix: string, operation: string, subject: string): RequestDescription {
  return {
    method,
    path: `/repos/${encodeURIComponent(repo.owner)}/${encodeURIComponent(repo.name)}${suffix}`,
    operation,
    repository: fullNameOf(repo),
    subject,
  };
}

/** The response's ETag, to send back as If-None-Match. */
export function etagOf(response: GitHubResponse): string | null {
  const etag = response.headers.etag;
  return etag === undefined ? null : String(etag);
}
