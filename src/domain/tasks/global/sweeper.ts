/**
 * Worker, global: ask GitHub, a batch of repositories per GraphQL query, for
 * the newest update of each member that is due, and let the fleet decide: walk
 * it now (newer than what is stored), leave it to its stream, move it or drop
 * it. Sweep-path members are found this way every (stretched) parseInterval;
 * stream-path members are reconciled this way, so a change a stream missed is
 * still caught.
 *
 * No repository is lost to a failing query: a query that fails as a whole is
 * split in halves and asked again, down to single repositories; a single
 * repository GitHub cannot answer for is recorded on it and the pass goes on.
 * When queries keep failing whatever their size, GitHub itself is in trouble:
 * the pass fails (the scheduler backs off) and the members not swept stay due.
 */
import { fullName } from '../../entities.js';
import { SweepError } from '../../fleet/errors.js';
import type { Fleet, FleetMember, SweepVerdict } from '../../fleet/fleet.js';
import type { FleetStore, RepositorySweeper } from '../../fleet/ports.js';
import type { SweepOutcome } from '../../fleet/types.js';
import { describeError, isAbort, pauseReasonOf } from '../../failure.js';
import type { Log } from '../../ports.js';
import type { GlobalWorkerSpec } from '../../spec.js';
import { SweepBatchSize } from './sweep-batch-size.js';

export interface SweeperDeps {
  readonly github: RepositorySweeper;
  readonly store: Pick<FleetStore, 'drop'>;
  readonly fleet: Fleet;
  /** How often the sweeper looks for members due, in milliseconds. */
  readonly interval: number;
  /** github.fleet.sweepBatch: repositories per query to start with. */
  readonly batchSize: number;
  readonly log: Log;
  /** Members swept in one pass at most; the rest wait for the next. Default 2,000. */
  readonly maxPerPass?: number;
  /** An answer slower than this halves the batch. Default 5 s. */
  readonly slowMs?: number;
  /** Default: Date.now. */
  readonly now?: () => number;
}

/** Queries failing as a whole in a row, however small, before the pass gives up: a split chain from 100 down to 1 takes 8. */
const MAX_FAILURES_IN_A_ROW = 8;
const DEFAULT_MAX_PER_PASS = 2_000;

interface PassTally {
  queries: number;
  swept: number;
  readonly verdicts: Record<SweepVerdict['verdict'], number>;
  /** Whole-query failures since the latest answer. */
  failuresInARow: number;
}

export function sweeper(deps: SweeperDeps): GlobalWorkerSpec {
  const size = new SweepBatchSize(deps.batchSize, deps.slowMs);
  return {
    resource: 'sweeper',
    interval: deps.interval,
    detects: true,
    work: (signal) => sweepDue(deps, size, signal),
  };
}

async function sweepDue(deps: SweeperDeps, size: SweepBatchSize, signal: AbortSignal): Promise<void> {
  const now = deps.now ?? Date.now;
  const due = deps.fleet.dueForSweep(now(), deps.maxPerPass ?? DEFAULT_MAX_PER_PASS, size.current);
  if (due.length === 0) return;
  const tally: PassTally = {
    queries: 0,
    swept: 0,
    verdicts: { unchanged: 0, nudged: 0, pending: 0, failed: 0, walk: 0, drop: 0, gone: 0 },
    failuresInARow: 0,
  };
  let next = 0;
  while (next < due.length) {
    signal.throwIfAborted();
    const batch = due.slice(next, next + size.current);
    next += batch.length;
    await sweepBatch(deps, size, batch, tally, signal, due.length - next);
  }
  const { nudged, pending, failed, walk, drop } = tally.verdicts;
  const fields = { swept: tally.swept, queries: tally.queries, nudged, pending, failed, walked: walk, dropped: drop, batch: size.current };
  const message =
    `swept ${tally.swept} repositories in ${tally.queries} queries: ${nudged} changed (walked now), ` +
    `${pending} waiting for their stream, ${failed + walk + drop} GitHub could not answer for`;
  if (nudged + failed + walk + drop > 0) deps.log.info(fields, message);
  else deps.log.debug(fields, message);
}

/** One batch, split in halves while it fails as a whole. `after`: members of the pass behind it, for the error. */
async function sweepBatch(deps: SweeperDeps, size: SweepBatchSize, batch: readonly FleetMember[], tally: PassTally, signal: AbortSignal, after: number): Promise<void> {
  const now = deps.now ?? Date.now;
  const parts: Array<readonly FleetMember[]> = [batch];
  for (let part = parts.shift(); part !== undefined; part = parts.shift()) {
    const started = now();
    let outcomes: SweepOutcome[];
    try {
      tally.queries++;
      outcomes = await deps.github.sweep(part.map((member) => member.partition), signal);
      if (outcomes.length !== part.length) throw new Error(`GitHub answered for ${outcomes.length} of the ${part.length} repositories asked about`);
    } catch (cause) {
      if (isAbort(cause, signal)) throw cause;
      const left = after + part.length + parts.reduce((sum, rest) => sum + rest.length, 0);
      // A refused token or a missing permission fails every query alike: splitting cannot help.
      if (pauseReasonOf(cause) !== undefined) throw new SweepError(left, { cause });
      size.failed();
      if (++tally.failuresInARow >= MAX_FAILURES_IN_A_ROW) throw new SweepError(left, { cause });
      if (part.length > 1) {
        const half = Math.ceil(part.length / 2);
        parts.unshift(part.slice(0, half), part.slice(half));
      } else {
        const [member] = part;
        if (member) await apply(deps, member, { ok: false, error: 'other', message: describeError(cause) }, tally);
      }
      continue;
    }
    size.answered(now() - started);
    tally.failuresInARow = 0;
    for (const [index, member] of part.entries()) {
      const outcome = outcomes[index];
      if (outcome) await apply(deps, member, outcome, tally);
    }
  }
}

async function apply(deps: SweeperDeps, member: FleetMember, outcome: SweepOutcome, tally: PassTally): Promise<void> {
  const now = deps.now ?? Date.now;
  const repository = fullName(member.partition);
  const result = deps.fleet.swept(member.partition.repositoryId, outcome, now());
  tally.swept++;
  tally.verdicts[result.verdict]++;
  if (!outcome.ok && result.verdict === 'failed') {
    deps.log.debug({ repository, error: outcome.error, message: outcome.message }, `cannot sweep ${repository}: ${outcome.message}; it is swept again later`);
  }
  if (result.verdict === 'walk') {
    deps.log.warn({ repository, reason: result.reason }, `${repository} is walked from now on: ${result.reason}`);
  }
  if (result.verdict === 'drop') {
    await deps.store.drop(member.partition.repositoryId, result.reason);
    deps.fleet.leave(member.partition.repositoryId);
    deps.log.warn({ repository, reason: result.reason }, `${repository} left the fleet: ${result.reason}`);
  }
}
