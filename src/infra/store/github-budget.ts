/**
 * The GitHub budget of one credential, shared by every daemon on this
 * database (docs/decisions/002-github-throttle.md, "Several daemons, one
 * budget"): the writes of the last hour, reserved one at a time so two daemons
 * never both take the last slot; the hold one daemon learnt, for the others to
 * apply; and how many daemons are live to divide the per-minute budgets by.
 *
 * A credential is a hash of its token computed by the caller; the token never
 * reaches this module. Times are epoch ms on the calling daemon's clock.
 */
import type { Kysely, Transaction } from 'kysely';
import { isPostgres } from './engine.js';
import type { Schema } from './schema.js';

/** The write budget's rules, as the throttle's WriteBudget applies them (src/infra/github/write-budget.ts). */
export interface WriteRules {
  /** Least time between two write starts. */
  readonly minIntervalMs: number;
  /** Most write starts in any 60 s. */
  readonly perMinute: number;
  /** Most write starts in any hour. */
  readonly perHour: number;
}

export interface CredentialHold {
  /** Epoch ms. */
  readonly until: number;
  readonly reason: string;
}

/** What a reservation found: 0 and the write is counted, or how long to wait (nothing counted). */
export interface WriteReservation {
  readonly waitMs: number;
  /** The credential's shared hold, when one is still running: the wait includes it. */
  readonly hold?: CredentialHold;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

export interface CredentialBudgetOptions {
  /** Clock for heartbeat freshness and `updated_at`. Default: the system clock. */
  readonly now?: () => Date;
}

export class SqlCredentialBudget {
  readonly #now: () => Date;

  constructor(
    private readonly db: Kysely<Schema>,
    /** First 16 hex characters of sha256(token). */
    readonly credential: string,
    /** This daemon (instances.id): whose writes are whose. */
    private readonly instance: string,
    options: CredentialBudgetOptions = {},
  ) {
    if (!/^[0-9a-f]{16}$/.test(credential)) throw new RangeError('a credential is the first 16 hex characters of sha256(token)');
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * In one transaction: reads the credential's writes of the last hour and its
   * shared hold; when the rules and the hold let a write start at `now`,
   * counts it and answers 0, otherwise answers how long to wait. The
   * credential's row serialises reservations: SQLite by the write lock the
   * first statement takes, PostgreSQL by `FOR UPDATE` on it.
   */
  async reserveWrite(now: number, rules: WriteRules): Promise<WriteReservation> {
    return this.db.transaction().execute(async (trx) => {
      const hold = await this.#lockCredential(trx);
      await trx.deleteFrom('github_writes').where('credential', '=', this.credential).where('at', '<=', now - HOUR_MS).execute();
      const rows = await trx.selectFrom('github_writes').select('at').where('credential', '=', this.credential).orderBy('at').execute();
      const held = hold !== undefined && hold.until > now ? hold : undefined;
      const waitMs = Math.max(writeWaitMs(rows.map((row) => Number(row.at)), now, rules), held === undefined ? 0 : held.until - now);
      if (waitMs === 0) await trx.insertInto('github_writes').values({ credential: this.credential, at: now, instance: this.instance }).execute();
      return held === undefined ? { waitMs } : { waitMs, hold: held };
    });
  }

  /**
   * A reserved write that was never sent (its last check cancelled it) leaves
   * the budget. Rows are told apart by time and daemon: two writes of one
   * daemon in the same millisecond (a gap of 0) go together.
   */
  async withdraw(at: number): Promise<void> {
    await this.db.deleteFrom('github_writes').where('credential', '=', this.credential).where('instance', '=', this.instance).where('at', '=', at).execute();
  }

  /** Forgets the writes older than an hour: they no longer count. */
  async prune(now: number): Promise<void> {
    await this.db.deleteFrom('github_writes').where('credential', '=', this.credential).where('at', '<=', now - HOUR_MS).execute();
  }

  /** Records a hold for every daemon on the credential; an earlier one than the hold recorded changes nothing. */
  async recordHold(until: number, reason: string): Promise<void> {
    await this.db
      .insertInto('github_holds')
      .values({ credential: this.credential, hold_until: until, reason, updated_at: this.#now().toISOString() })
      .onConflict((oc) =>
        oc
          .column('credential')
          .doUpdateSet((eb) => ({ hold_until: eb.ref('excluded.hold_until'), reason: eb.ref('excluded.reason'), updated_at: eb.ref('excluded.updated_at') }))
          .where('github_holds.hold_until', '<', until),
      )
      .execute();
  }

  /** The credential's latest hold, if any was recorded (it may have passed). */
  async currentHold(): Promise<CredentialHold | undefined> {
    const row = await this.db.selectFrom('github_holds').select(['hold_until', 'reason']).where('credential', '=', this.credential).executeTakeFirst();
    return toHold(row);
  }

  /** Daemons whose heartbeat is fresher than `staleAfterMs`, this one counted even before its first beat: at least 1. */
  async liveDaemons(staleAfterMs: number): Promise<number> {
    const since = new Date(this.#now().getTime() - staleAfterMs).toISOString();
    const row = await this.db.selectFrom('instances').select((eb) => eb.fn.countAll<number | string>().as('live')).where('heartbeat_at', '>', since).executeTakeFirst();
    return Math.max(1, Number(row?.live ?? 0));
  }

  /** Creates the credential's row if it is missing, locks it (PostgreSQL) and reads its hold. */
  async #lockCredential(trx: Transaction<Schema>): Promise<CredentialHold | undefined> {
    // On SQLite this first write takes the database's write lock, so the
    // reads below see every reservation committed before this one.
    await trx
      .insertInto('github_holds')
      .values({ credential: this.credential, hold_until: 0, reason: '', updated_at: this.#now().toISOString() })
      .onConflict((oc) => oc.column('credential').doNothing())
      .execute();
    let query = trx.selectFrom('github_holds').select(['hold_until', 'reason']).where('credential', '=', this.credential);
    if (isPostgres(trx)) query = query.forUpdate();
    return toHold(await query.executeTakeFirst());
  }
}

/**
 * How long a write must wait, given the start times of the last hour (oldest
 * first): the gap after the latest, and the oldest of the last `perMinute`
 * (`perHour`) leaving its minute (hour). The same arithmetic as WriteBudget's.
 */
export function writeWaitMs(starts: readonly number[], now: number, rules: WriteRules): number {
  const count = starts.length;
  if (count === 0) return 0;
  let until = (starts[count - 1] as number) + rules.minIntervalMs;
  if (count >= rules.perMinute) until = Math.max(until, (starts[count - rules.perMinute] as number) + MINUTE_MS);
  if (count >= rules.perHour) until = Math.max(until, (starts[count - rules.perHour] as number) + HOUR_MS);
  return Math.max(0, until - now);
}

function toHold(row: { hold_until: number | string; reason: string } | undefined): CredentialHold | undefined {
  if (row === undefined) return undefined;
  const until = Number(row.hold_until);
  return until > 0 ? { until, reason: row.reason } : undefined;
}
