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
  /** GraphQL's own primary budget in points per token per window (x-ratelimit-resource: graphql). Default 5000. */
  graphqlRateLimit?: number;
  /** GitHub's secondary limits, each enforced only when given. Default: none enforced. */
  secondaryLimits?: SecondaryLimits;
  /** Simulated response time, waited before answering and counted as CPU time. Default: none. */
  latency?: Latency;
}

/**
 * The secondary limits GitHub documents (rate limits for the REST API, "About secondary rate limits"), per
 * token over a sliding minute of the simulator's clock. Points: REST GET/HEAD/OPTIONS 1, other methods 5;
 * GraphQL queries 1, mutations 5. A request over a limit is answered 403 with `retry-after` and recorded as
 * a breach; it does not count further.
 */
export interface SecondaryLimits {
  /** GitHub: 900. */
  restPointsPerMinute?: number;
  /** GitHub: 2000. */
  graphqlPointsPerMinute?: number;
  /** Requests in flight at once, REST and GraphQL together. GitHub: 100. */
  maxConcurrent?: number;
  /** CPU time (the simulated response time) per minute, REST and GraphQL together. GitHub: 90,000. */
  cpuMsPerMinute?: number;
  /** The GraphQL share of that CPU time. GitHub: 60,000. */
  graphqlCpuMsPerMinute?: number;
}

export interface Latency {
  /** Every REST request. Default 0. */
  restMs?: number;
  /** Every GraphQL request. Default 0. */
  graphqlMs?: number;
  /** Added per `repository` field a GraphQL query asks for (a sweep's batch size drives its time). Default 0. */
  graphqlPerRepositoryMs?: number;
}

/** Which limit a refused request ran into. */
export type SimBreachKind =
  | 'primary'
  | 'graphql-primary'
  | 'secondary-points'
  | 'secondary-graphql-points'
  | 'secondary-concurrency'
  | 'secondary-cpu'
  | 'secondary-graphql-cpu';

/** A request the simulator refused because a rate limit was exceeded (injected faults are not breaches). */
export interface SimBreach {
  kind: SimBreachKind;
  /** Simulator clock (ms). */
  at: number;
  token: string;
  method: string;
  path: string;
}

/** How an author relates to the repository, as GitHub's `author_association` says it. */
export const SIM_AUTHOR_ASSOCIATIONS = [
  'COLLABORATOR',
  'CONTRIBUTOR',
  'FIRST_TIMER',
  'FIRST_TIME_CONTRIBUTOR',
  'MANNEQUIN',
  'MEMBER',
  'NONE',
  'OWNER',
] as const;
export type SimAuthorAssociation = (typeof SIM_AUTHOR_ASSOCIATIONS)[number];

export interface SimIssueInput {
  title: string;
  body?: string | null;
  labels?: string[];
  user?: string;
  /**
   * The author's `author_association`. Default: OWNER when the author is the repository's owner, MEMBER for
   * the token's user (a member of the organisation, with push access), NONE for anybody else.
   */
  authorAssociation?: SimAuthorAssociation;
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
  /** The author's login. Default: the token's user, or `github-actions` for a bot. */
  user?: string;
  /** The author's `author_association`. Default: as for an issue (OWNER, MEMBER or NONE). */
  authorAssociation?: SimAuthorAssociation;
  /**
   * An app or bot: the login gets GitHub's `[bot]` suffix (unless it has it) and `user.type` is `Bot`.
   * A login already ending in `[bot]` is a bot whatever this says. Default false.
   */
  bot?: boolean;
  /** ISO 8601; default now. */
  createdAt?: string;
  /** ISO 8601, when the comment was last edited; default createdAt. Does not move the issue's updated_at. */
  updatedAt?: string;
}

/** A reaction to a comment, as the test reads it back. */
export interface SimReaction {
  id: number;
  /** `+1`, `-1`, `laugh`, `confused`, `heart`, `hooray`, `rocket` or `eyes`. */
  content: string;
  /** Who reacted (the token's user for reactions made over the API). */
  user: string;
  createdAt: string;
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
  authorAssociation: SimAuthorAssociation;
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
  authorAssociation: SimAuthorAssociation;
  /** `user.type` is `Bot` (the login ends in `[bot]`). */
  bot: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface SimRepositoryInput {
  owner: string;
  name: string;
  private?: boolean;
  /** Default false. */
  archived?: boolean;
  /** Default none. */
  topics?: readonly string[];
  /** ISO 8601; default now. Orders `GET /orgs/{org}/repos?sort=created`. */
  createdAt?: string;
}

export interface SimRepository {
  id: number;
  owner: string;
  name: string;
  private: boolean;
  archived: boolean;
  topics: string[];
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
  /**
   * What the request took from its primary budget: 1 for a REST request, the query's cost in points for
   * GraphQL; 0 for 304s, /rate_limit, rejected and faulted requests.
   */
  rateLimitCost: number;
}

export type SimFault = { match?: { method?: string; path?: string | RegExp }; times?: number } & (
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  | { kind: 'secondary-rate-limit'; retryAfterSeconds?: number; status?: 403 | 429 }
  | { kind: 'server-error'; status?: 500 | 502 | 503 }
  | { kind: 'delay'; ms: number }
  | { kind: 'drop' }
  | { kind: 'malformed' }
  /** POST /graphql only: the query "times out" (GitHub's answer to a query over its 10 s budget). Default status 200. */
  | { kind: 'graphql-timeout'; status?: 200 | 502 }
  /**
   * POST /graphql only: the `repository` field for this repository ('owner/name', case-insensitive) resolves
   * to null with a FORBIDDEN error (SAML enforcement); `times` counts resolutions, not requests.
   */
  | { kind: 'graphql-forbidden'; repository: string }
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
  repositories: Array<{
    owner: string;
    name: string;
    private?: boolean;
    archived?: boolean;
    topics?: string[];
    issues?: SimIssueInput[];
  }>;
  /** Many repositories at once, without listing each (a fleet). */
  generate?: RepositoryGenerator[];
}

/**
 * `count` repositories `owner/<namePrefix><n>` (n from 1, zero-padded to the width of count), each with
 * `issuesPerRepository` issues dated one minute apart, oldest first, ending now.
 */
export interface RepositoryGenerator {
  owner: string;
  count: number;
  /** Default 'repo-'. */
  namePrefix?: string;
  /** Default 0. */
  issuesPerRepository?: number;
  /** Every n-th repository is archived. Default: none. */
  archivedEvery?: number;
  /** Topics on every generated repository. Default none. */
  topics?: string[];
  /** Every n-th issue is a pull request. Default: none. */
  pullRequestEvery?: number;
  /** Labels on every generated issue. Default none. */
  labels?: string[];
}

export interface Simulator {
  /** 'http://127.0.0.1:PORT', the API root; an '/api/v3' prefix is also accepted, as on GHES. */
  readonly url: string;
  /** Added to the contract: the tokens the simulator accepts. */
  readonly tokens: readonly string[];
  /** Closes the server and every open socket. Idempotent. */
  close(): Promise<void>;

  addRepository(input: SimRepositoryInput): SimRepository;
  /** Deletes a repository and its issues: 404 everywhere, gone from every listing. */
  removeRepository(owner: string, name: string): void;
  /** Sets `archived` (default true) and moves the repository's updated_at. */
  archiveRepository(owner: string, name: string, archived?: boolean): SimRepository;
  /**
   * A stream that misses an update: the issue stays out of `GET /orgs/{org}/issues` and `GET /issues` from
   * now on; its repository's own listing and GraphQL still show it.
   */
  hideFromScopeListings(owner: string, name: string, number: number): void;
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
  /**
   * Edits a comment of the repository as its author would: the comment's updated_at moves to now, its
   * issue's does not (GitHub does not document it; the comment listing is where an edit shows).
   */
  editComment(owner: string, name: string, commentId: number, body: string): SimComment;
  /** The reactions to a comment of the repository, oldest first. */
  reactions(owner: string, name: string, commentId: number): SimReaction[];
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
  /** The GraphQL budget, apart from the REST one as on GitHub. */
  setGraphqlRateLimit(token: string, state: { remaining: number; resetAt?: number }): void;
  graphqlRateLimitOf(token: string): RateLimitState;
  /** Every request refused by a primary or secondary limit, oldest first. */
  breaches(): readonly SimBreach[];
  /** Requests being handled right now (received, not yet answered). */
  inFlight(): number;

  /** The next `times` (default 1) matching requests get the fault instead of normal handling. */
  injectFault(fault: SimFault): void;
  clearFaults(): void;
}
