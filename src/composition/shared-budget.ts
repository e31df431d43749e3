/**
 * The credential's GitHub budget, shared by every daemon on the database
 * (SqlCredentialBudget), wired to this daemon's throttle: each write is
 * reserved in the shared write budget; every few seconds the share (live
 * daemons) and the shared hold are applied; holds this daemon learns are
 * recorded for the others. The database failing never loses a write nor stops
 * the daemon: it is logged, and the throttle goes on with its own budgets.
 */
import { createHash } from 'node:crypto';
import type { Log } from '../domain/ports.js';
import type { HoldReason, SharedWriteBudget, WriteRules } from '../infra/github/index.js';
import type { SqlCredentialBudget } from '../infra/store/index.js';
import { INSTANCE_STALE_MS } from './instance-heartbeat.js';

/** How often the share and the shared hold are looked at: the instance heartbeat's rhythm. */
const REFRESH_MS = 5_000;

/** A token's name in the database: the first 16 hex characters of its sha256, never the token. */
export function credentialOf(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
}

/** What the shared budget steers: the GitHub client (or its throttle). */
export interface BudgetTarget {
  setShare(share: number): void;
  holdUntil(until: number, reason: HoldReason): void;
}

export interface SharedBudgetOptions {
  /** How often the share and the shared hold are refreshed. Default 5 s. */
  readonly intervalMs?: number;
  /** A daemon without a heartbeat for this long does not count towards the share. Default 30 s (INSTANCE_STALE_MS). */
  readonly staleAfterMs?: number;
  /** The throttle's clock, epoch ms: holds and write times are on it. Default Date.now. */
  readonly now?: () => number;
}

const HOLD_REASONS: readonly HoldReason[] = ['primary-rate-limit', 'secondary-rate-limit', 'retry-after'];

export class SharedBudget {
  /** The throttle's `sharedWrites`. */
  readonly writes: SharedWriteBudget;
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #staleAfterMs: number;
  #target: BudgetTarget | undefined;
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> = Promise.resolve();
  readonly #recording = new Set<Promise<void>>();
  /** Whether the last refresh failed: a failing database is said once, not every 5 s. */
  #failing = false;

  constructor(
    private readonly store: SqlCredentialBudget,
    private readonly log: Log,
    options: SharedBudgetOptions = {},
  ) {
    this.#now = options.now ?? Date.now;
    this.#intervalMs = options.intervalMs ?? REFRESH_MS;
    this.#staleAfterMs = options.staleAfterMs ?? INSTANCE_STALE_MS;
    this.writes = {
      reserve: (now, rules) => this.#reserve(now, rules),
      withdraw: async (at) => {
        try {
          await this.store.withdraw(at);
        } catch (error) {
          this.log.warn({ error: String(error) }, 'could not take a cancelled comment out of the shared comment budget; it counts until it is an hour old');
        }
      },
    };
  }

  /** Applies the share and the shared hold to `target` now and every interval, until `stop`. */
  start(target: BudgetTarget): Promise<void> {
    this.#target = target;
    this.#timer ??= setInterval(() => {
      this.#refreshing = this.refresh();
    }, this.#intervalMs);
    this.#timer.unref();
    this.#refreshing = this.refresh();
    return this.#refreshing;
  }

  /** Divides the budgets by the live daemons, applies the credential's hold, forgets writes older than an hour. */
  async refresh(): Promise<void> {
    const target = this.#target;
    if (target === undefined) return;
    try {
      target.setShare(await this.store.liveDaemons(this.#staleAfterMs));
      const hold = await this.store.currentHold();
      if (hold !== undefined && hold.until > this.#now()) target.holdUntil(hold.until, holdReasonOf(hold.reason));
      await this.store.prune(this.#now());
      if (this.#failing) this.log.info({}, 'the shared GitHub budget is readable again');
      this.#failing = false;
    } catch (error) {
      if (!this.#failing) this.log.warn({ error: String(error) }, 'could not read the GitHub budget shared with other daemons; keeping the last share and holds, retrying');
      this.#failing = true;
    }
  }

  /** A hold this daemon's throttle learnt from GitHub (its telemetry's onHold): recorded for the others. */
  learnt(info: { until: number; reason: HoldReason }): void {
    const recording = this.store.recordHold(info.until, info.reason).catch((error: unknown) => {
      this.log.warn({ error: String(error), reason: info.reason }, 'could not share a GitHub hold with the other daemons; they learn it from their own responses');
    });
    this.#recording.add(recording);
    void recording.finally(() => this.#recording.delete(recording));
  }

  /** Resolves once every hold learnt so far is recorded (or failed to be). */
  async settled(): Promise<void> {
    await Promise.all([...this.#recording]);
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#refreshing;
    await this.settled();
  }

  async #reserve(now: number, rules: WriteRules): Promise<number> {
    try {
      const reservation = await this.store.reserveWrite(now, rules);
      if (reservation.hold !== undefined) this.#target?.holdUntil(reservation.hold.until, holdReasonOf(reservation.hold.reason));
      return reservation.waitMs;
    } catch (error) {
      // Sending on this daemon's own budget beats losing the answer; GitHub's limits are above ours.
      this.log.warn({ error: String(error) }, 'could not reserve a comment in the GitHub budget shared with other daemons; sending it on this daemon\'s own budget');
      return 0;
    }
  }
}

function holdReasonOf(reason: string): HoldReason {
  return HOLD_REASONS.find((known) => known === reason) ?? 'secondary-rate-limit';
}
