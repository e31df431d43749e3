/** The fleet's domain errors: what failed, in our words, with the adapter's error as `cause`. */
import { describeError, failureKindOf, pauseReasonOf, type PauseReason } from '../failure.js';

/** Listing one or more organisations failed; the first cause (a permanent one when any) carries the classification. */
export class DiscoveryError extends Error {
  readonly organizations: readonly string[];
  /** An organisation that does not exist or that the token cannot see: the configuration names it, nothing retries it. */
  readonly pausesWork?: PauseReason;

  constructor(failures: ReadonlyArray<{ readonly organization: string; readonly cause: unknown }>) {
    const ordered = [...failures].sort((a, b) => rank(a.cause) - rank(b.cause));
    const first = ordered[0];
    const detail = ordered.map((failure) => `${failure.organization}: ${describeError(failure.cause)}`).join('; ');
    const permanent = first !== undefined && failureKindOf(first.cause) === 'permanent';
    const hint = permanent ? ' (check github.organizations: an organisation that does not exist or that the token cannot see)' : '';
    super(`cannot discover the repositories of ${ordered.map((failure) => failure.organization).join(', ')}${hint}: ${detail}`, { cause: first?.cause });
    this.name = 'DiscoveryError';
    this.organizations = ordered.map((failure) => failure.organization);
    if (permanent && pauseReasonOf(first.cause) === undefined) this.pausesWork = 'configuration';
  }
}

/** Permanent failures first: they decide how the whole pass is treated (setup fails at once). */
function rank(cause: unknown): number {
  const kind = failureKindOf(cause);
  return kind === 'permanent' ? 0 : kind === 'unknown' ? 1 : 2;
}

export class StreamIssuesError extends Error {
  constructor(organization: string, options: { cause: unknown }) {
    super(`cannot stream the issues of organisation ${organization}`, options);
    this.name = 'StreamIssuesError';
  }
}

export class SweepError extends Error {
  constructor(count: number, options: { cause: unknown }) {
    super(`cannot sweep ${count} ${count === 1 ? 'repository' : 'repositories'}: GitHub kept failing the queries`, options);
    this.name = 'SweepError';
  }
}
