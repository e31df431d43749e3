/**
 * Work units held under leases (decision 010): which daemon walks a
 * repository, reads an organisation's stream, runs discovery. One row per
 * unit; a daemon renews what it holds every heartbeat and takes units that are
 * free or whose lease ran out. Every change names this daemon as the owner it
 * expects, so a daemon never renews, releases or loses a unit another holds.
 *
 * Taking is one conditional UPDATE per chunk (free or expired, checked again
 * on the row as it is written), so two daemons never both take a unit; on
 * PostgreSQL the candidates are locked first with `FOR UPDATE SKIP LOCKED`, so
 * daemons taking at once skip each other's candidates instead of queueing.
 */
import type { ExpressionBuilder, Kysely, Selectable } from 'kysely';
import { isPostgres } from './engine.js';
import { CHUNK } from './issue-writes.js';
import type { Schema, WorkLeasesTable } from './schema.js';

export interface WorkLease {
  readonly unit: string;
  /** The holding daemon's instance id; null while free. */
  readonly owner: string | null;
  /** When the lease runs out (ISO); for a free unit, when it became free. */
  readonly expiresAt: string | null;
  readonly acquiredAt: string | null;
  /** Acquisitions so far. */
  readonly fence: number;
}

export interface WorkLeaseStoreOptions {
  /** Default: the system clock. */
  readonly now?: () => Date;
}

export class SqlWorkLeaseStore {
  readonly #now: () => Date;
  readonly #postgres: boolean;

  constructor(
    private readonly db: Kysely<Schema>,
    /** This daemon's instance id. */
    readonly owner: string,
    options: WorkLeaseStoreOptions = {},
  ) {
    this.#now = options.now ?? (() => new Date());
    this.#postgres = isPostgres(db);
  }

  /** Units that appeared: inserted free (several daemons may ensure the same unit; the first insert wins). */
  async ensure(units: readonly string[]): Promise<void> {
    // A new unit is free since now: the rule that lets anyone take a unit free for a TTL counts from here.
    const now = this.#iso();
    for (const chunk of chunks(units)) {
      await this.db
        .insertInto('work_leases')
        .values(chunk.map((unit) => ({ unit, owner: null, expires_at: now, acquired_at: null })))
        .onConflict((oc) => oc.column('unit').doNothing())
        .execute();
    }
  }

  /** Units that left: deleted, whoever holds them (the holder finds them gone at its next renewal). */
  async retire(units: readonly string[]): Promise<void> {
    for (const chunk of chunks(units)) await this.db.deleteFrom('work_leases').where('unit', 'in', chunk).execute();
  }

  /** Extends every lease this daemon holds by `ttlMs`; returns the units it still holds (any other was lost). */
  async renew(ttlMs: number): Promise<string[]> {
    const rows = await this.db
      .updateTable('work_leases')
      .set({ expires_at: this.#iso(ttlMs) })
      .where('owner', '=', this.owner)
      .returning('unit')
      .execute();
    return rows.map((row) => row.unit).sort();
  }

  /**
   * Takes the units named (or up to `count` of any) that are free or whose
   * lease ran out, for `ttlMs`; returns the units taken. A unit another daemon
   * holds, or takes meanwhile, is left alone.
   */
  async acquire(want: readonly string[] | number, ttlMs: number): Promise<string[]> {
    if (typeof want === 'number') return this.#acquireAny(want, ttlMs);
    const taken: string[] = [];
    for (const chunk of chunks(want)) taken.push(...(await this.#acquireChunk(chunk, ttlMs)));
    return taken.sort();
  }

  /** Gives the units up at once (free since now), so another daemon takes them at its next heartbeat. */
  async release(units: readonly string[]): Promise<void> {
    const now = this.#iso();
    for (const chunk of chunks(units)) {
      await this.db.updateTable('work_leases').set({ owner: null, expires_at: now }).where('owner', '=', this.owner).where('unit', 'in', chunk).execute();
    }
  }

  /** Gives up everything this daemon holds (a graceful stop); returns the units released. */
  async releaseAll(): Promise<string[]> {
    const rows = await this.db
      .updateTable('work_leases')
      .set({ owner: null, expires_at: this.#iso() })
      .where('owner', '=', this.owner)
      .returning('unit')
      .execute();
    return rows.map((row) => row.unit).sort();
  }

  /**
   * Frees at once the units of owners no longer registered: a daemon whose
   * registration was removed (its pid gone on this host, its heartbeat stale)
   * holds nothing, whatever its leases still say. Returns how many were freed.
   */
  async freeUnregistered(): Promise<number> {
    const result = await this.db
      .updateTable('work_leases')
      .set({ owner: null, expires_at: this.#iso() })
      .where('owner', 'is not', null)
      .where('owner', 'not in', (eb) => eb.selectFrom('instances').select('id'))
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Units held (lease not run out) per owner: the fair share's input and what `status` shows. */
  async holdings(): Promise<Map<string, number>> {
    const rows = await this.db
      .selectFrom('work_leases')
      .select((eb) => ['owner', eb.fn.countAll().as('held')])
      .where('owner', 'is not', null)
      .where('expires_at', '>', this.#iso())
      .groupBy('owner')
      .execute();
    return new Map(rows.map((row) => [row.owner as string, Number(row.held)]));
  }

  async list(): Promise<WorkLease[]> {
    const rows = await this.db.selectFrom('work_leases').selectAll().orderBy('unit').execute();
    return rows.map(leaseOf);
  }

  async #acquireChunk(units: readonly string[], ttlMs: number): Promise<string[]> {
    if (units.length === 0) return [];
    if (!this.#postgres) return this.#take(this.db, units, ttlMs);
    return this.db.transaction().execute(async (trx) => {
      const now = this.#iso();
      const candidates = await trx
        .selectFrom('work_leases')
        .select('unit')
        .where('unit', 'in', units)
        .where((eb) => takeable(eb, now))
        .forUpdate()
        .skipLocked()
        .execute();
      return this.#take(trx, candidates.map((row) => row.unit), ttlMs);
    });
  }

  async #acquireAny(count: number, ttlMs: number): Promise<string[]> {
    if (!(count > 0)) return [];
    const now = this.#iso();
    const taken = await this.db.transaction().execute(async (trx) => {
      let candidates = trx
        .selectFrom('work_leases')
        .select('unit')
        .where((eb) => takeable(eb, now))
        .orderBy('unit')
        .limit(Math.floor(count));
      if (this.#postgres) candidates = candidates.forUpdate().skipLocked();
      const units = (await candidates.execute()).map((row) => row.unit);
      return this.#take(trx, units, ttlMs);
    });
    return taken.sort();
  }

  /** The write that takes: the condition is checked again on each row as it is updated. */
  async #take(db: Kysely<Schema>, units: readonly string[], ttlMs: number): Promise<string[]> {
    if (units.length === 0) return [];
    const now = this.#iso();
    const rows = await db
      .updateTable('work_leases')
      .set((eb) => ({ owner: this.owner, expires_at: this.#iso(ttlMs), acquired_at: now, fence: eb('fence', '+', 1) }))
      .where('unit', 'in', units)
      .where((eb) => takeable(eb, now))
      .returning('unit')
      .execute();
    return rows.map((row) => row.unit);
  }

  #iso(plusMs = 0): string {
    return new Date(this.#now().getTime() + plusMs).toISOString();
  }
}

/** Free, or held under a lease that ran out. */
function takeable(eb: ExpressionBuilder<Schema, 'work_leases'>, now: string) {
  return eb.or([eb('owner', 'is', null), eb('expires_at', 'is', null), eb('expires_at', '<=', now)]);
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += CHUNK) out.push(items.slice(start, start + CHUNK));
  return out;
}

function leaseOf(row: Selectable<WorkLeasesTable>): WorkLease {
  return { unit: row.unit, owner: row.owner, expiresAt: row.expires_at, acquiredAt: row.acquired_at, fence: Number(row.fence) };
}
