/** HTTP details the server needs: tokens, conditional requests, bodies, rate-limit headers, fault replies. */
import type { IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { errors } from './payloads.js';
import type { Reply } from './route-kit.js';
import type { RateLimitState, SimFault } from './types.js';

const MAX_BODY_BYTES = 1 << 20;

/** 'token X' or 'Bearer X' → X; anything else → null. */
export function tokenOf(authorization: string | undefined): string | null {
  const match = /^(?:token|bearer)\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match ? (match[1] ?? null) : null;
}

export function headerOf(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : (value ?? null);
}

/** If-None-Match holds a list of tags; weak comparison ignores the W/ prefix, as RFC 9110 says for GET. */
export function etagMatches(ifNoneMatch: string | null, etag: string): boolean {
  if (ifNoneMatch === null) return false;
  const strip = (tag: string) => tag.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || strip(tag) === strip(etag));
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export type RateLimitResource = 'core' | 'graphql';

export function rateLimitHeaders(limit: RateLimitState, resource: RateLimitResource): Record<string, string> {
  return {
    'x-ratelimit-limit': String(limit.limit),
    'x-ratelimit-remaining': String(limit.remaining),
    'x-ratelimit-reset': String(limit.resetAt),
    'x-ratelimit-used': String(limit.used),
    'x-ratelimit-resource': resource,
  };
}

/** A truncated list of issues: valid JSON up to the point where the connection "broke". */
export const MALFORMED_BODY = '[{"id":1,"number":1,"title":"Crash when the config file is emp';

/** GitHub's answer when a query runs past its time budget (10 s), with the request id it asks to quote. */
export function graphqlTimeoutBody(requestId: string) {
  return {
    data: null,
    errors: [
      {
        message:
          'Something went wrong while executing your query. This may be the result of a timeout, or it could ' +
          `be a GitHub bug. Please include \`${requestId}\` when reporting this issue.`,
      },
    ],
  };
}

export function faultReply(fault: SimFault, requestId: string): Reply {
  switch (fault.kind) {
    case 'status': {
      const fallback = { message: STATUS_CODES[fault.status] ?? 'Error', documentation_url: 'https://docs.github.com/rest' };
      const body = fault.status === 204 || fault.status === 304 ? undefined : (fault.body ?? fallback);
      return { status: fault.status, body, headers: fault.headers ?? {} };
    }
    case 'secondary-rate-limit': {
      const status = fault.status ?? 403;
      const headers: Record<string, string> =
        fault.retryAfterSeconds === undefined ? {} : { 'retry-after': String(fault.retryAfterSeconds) };
      return { status, body: errors.secondaryRateLimit(requestId, status), headers };
    }
    case 'server-error': {
      const status = fault.status ?? 500;
      return { status, body: { message: status === 500 ? 'Server Error' : (STATUS_CODES[status] ?? 'Error') } };
    }
    case 'graphql-timeout':
      return { status: fault.status ?? 200, body: graphqlTimeoutBody(requestId) };
    default:
      throw new Error(`fault ${fault.kind} has no reply`);
  }
}
