/**
 * The public contract of the GitHub API simulator. What it answers over HTTP is held to GitHub's REST
 * description by test/simulator-openapi.test.ts.
 */

export interface SimulatorOptions {
  /** Port to listen on. Default 0 (an ephemeral port). */
  port?: number;
  /** Interface to listen on. Default '127.0.0.1'. */
  host?: string;
  /** Accepted tokens. Default: the scenario's tokens, else ['sim-token']. */
  tokens?: string[];
  /** Primary budget per token per window. Default 5000. */
  rateLimit?: number;
  /** Length of a rate-limit window in ms. Default 3_600_000. */
  rateLimitWindowMs?: number;
  /** Clock in epoch ms. Default Date.now. */
  now?: () => number;
  /**
   * Added to that clock: a GitHub whose clock runs ahead (positive) or behind
   * this machine's. Shifts everything the simulator dates: the `Date` header,
   * rate-limit resets, timestamps and `startedAt`. Default 0.
   */
  clockOffsetMs?: number;
  /** Seed data. Default: none. */
  scenario?: Scenario;
  /** Added to the contract: keep only the latest N entries in `requests`, for long demo runs. Default: all. */
  requestLogLimit?: number;
}

export interface SimIssueInput {
  title: string;
  body?: string | null;
  labels?: string[];
  user?: string;
  state?: 'open' | 'closed';
  pullRequest?: boolean;
  /** ISO 8601; default now. */
  createdAt?: string;
  /** ISO 8601; default the latest of createdAt and the comments' createdAt. */
  updatedAt?: string;
  comments?: SimCommentInput[];
}

export interface SimCommentInput {
  body: string;
  user?: string;
  createdAt?: string;
}

export interface SimIssue {
  id: number;
  number: number;
  owner: string;
  repo: string;
  title: string;
  body: string | null;
  labels: string[];
  user: string;
  state: 'open' | 'closed';
  pullRequest: boolean;
  comments: number;
  createdAt: string;
  updatedAt: string;
  /** Added to the contract: when the issue was last closed, null while open. */
  closedAt: string | null;
}

export interface SimComment {
  id: number;
  issueNumber: number;
  body: string;
  user: string;
  createdAt: string;
  updatedAt: string;
}

export interface SimRepository {
  id: number;
  owner: string;
  name: string;
  private: boolean;
}

export interface SimRequest {
  method: string;
  /** Without query and without an '/api/v3' prefix, e.g. '/repos/acme/api/issues'. */
  path: string;
  query: Record<string, string>;
  /** The response status; 0 when a 'drop' fault destroyed the socket. */
  status: number;
  /** The If-None-Match request header. */
  ifNoneMatch: string | null;
  userAgent: string | null;
  /** The token used ('token X' / 'Bearer X'), valid or not. */
  token: string | null;
  /** Simulator clock (ms) when the request was received. */
  startedAt: number;
  /** 0 for 304s, /rate_limit, rejected and faulted requests. */
  rateLimitCost: 0 | 1;
}

export type SimFault = { match?: { method?: string; path?: string | RegExp }; times?: number } & (
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  | { kind: 'secondary-rate-limit'; retryAfterSeconds?: number; status?: 403 | 429 }
  | { kind: 'server-error'; status?: 500 | 502 | 503 }
  | { kind: 'delay'; ms: number }
  | { kind: 'drop' }
  | { kind: 'malformed' }
);

export interface RateLimitState {
  limit: number;
  remaining: number;
  used: number;
  /** Epoch seconds. */
  resetAt: number;
}

export interface Scenario {
  tokens?: string[];
  repositories: Array<{ owner: string; name: string; private?: boolean; issues?: SimIssueInput[] }>;
}

export interface Simulator {
  /** 'http://127.0.0.1:PORT', the API root; an '/api/v3' prefix is also accepted, as on GHES. */
  readonly url: string;
  /** Added to the contract: the tokens the simulator accepts. */
  readonly tokens: readonly string[];
  /** Closes the server and every open socket. Idempotent. */
  close(): Promise<void>;

  addRepository(input: { owner: string; name: string; private?: boolean }): SimRepository;
  addIssue(owner: string, name: string, input: SimIssueInput): SimIssue;
  /** Bumps updated_at to now. */
  updateIssue(
    owner: string,
    name: string,
    number: number,
    patch: Partial<Pick<SimIssueInput, 'title' | 'body' | 'labels' | 'state'>>,
  ): SimIssue;
  /** Bumps the issue's updated_at (to the comment's time if later) and its comments count. */
  addComment(owner: string, name: string, number: number, input: SimCommentInput): SimComment;
  /** Same id, new repository, new number; the old URL answers 301. */
  transferIssue(fromOwner: string, fromName: string, number: number, toOwner: string, toName: string): SimIssue;
  issues(owner: string, name: string): SimIssue[];
  comments(owner: string, name: string, number: number): SimComment[];

  readonly requests: readonly SimRequest[];
  clearRequests(): void;
  /** Called after each response is sent; returns an unsubscribe function. */
  onRequest(listener: (request: SimRequest) => void): () => void;

  setRateLimit(token: string, state: { remaining: number; resetAt?: number }): void;
  rateLimitOf(token: string): RateLimitState;

  /** The next `times` (default 1) matching requests get the fault instead of normal handling. */
  injectFault(fault: SimFault): void;
  clearFaults(): void;
}
