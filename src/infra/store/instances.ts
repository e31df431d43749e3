/**
 * The daemons using this database, one row each with a heartbeat. On SQLite
 * one daemon owns the file: a second `run` finds the first here and refuses,
 * naming it. A registered daemon that is gone (its pid dead on this host, or
 * no heartbeat for `staleAfterMs` from another host) is taken over.
 *
 * On a shared database (PostgreSQL) any number of daemons register: the rows
 * say which daemons live, and the work leases (src/composition/work-leases.ts)
 * share the fleet among them. A gone daemon's row is removed by whoever
 * registers or beats next.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kysely, Selectable, Transaction } from 'kysely';
import { tableExists } from './engine.js';
import type { InstancesTable, Schema } from './schema.js';

/** Who this process is, as recorded with its claims and its registration. */
export interface InstanceIdentity {
  /** Unique per process start. */
  readonly id: string;
  readonly host: string;
  readonly pid: number;
}

export function currentInstance(): InstanceIdentity {
  return { id: randomUUID(), host: hostname(), pid: process.pid };
}

/** Whether a process of this host exists: signal 0 fails with ESRCH only when it does not. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, it is just not ours to signal.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

export interface InstanceRecord {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly version: string;
  readonly startedAt: string;
  readonly heartbeatAt: string;
}

/** Another daemon uses the same database; this one must not start. */
export class InstanceConflictError extends Error {
  readonly other: InstanceRecord;
  constructor(path: string, other: InstanceRecord, staleAfterMs: number) {
    super(
      `another autosolve daemon is using the database ${path}: pid ${other.pid} on host ${other.host} ` +
        `(version ${other.version}, started ${other.startedAt}, last heartbeat ${other.heartbeatAt}). ` +
        `Two daemons on one SQLite file would answer issues twice: stop the other one first ` +
        `(on ${other.host}: kill ${other.pid}), or point database.sqlitePath at another file. ` +
        `A daemon that died on another host is taken over ${Math.round(staleAfterMs / 1000)}s after its last heartbeat.`,
    );
    this.name = 'InstanceConflictError';
    this.other = other;
  }
}

/**
 * This daemon's registration is gone while it runs: another daemon took it
 * over (it found this one's heartbeat stale), or the database was reset.
 * Working on would make two daemons on one SQLite file.
 */
export class InstanceLostError extends Error {
  constructor(path: string, self: InstanceIdentity, successor: InstanceRecord | undefined, shared = false) {
    if (shared) {
      super(
        `this daemon (pid ${self.pid} on host ${self.host}) lost its registration in the shared database ${path}: another daemon ` +
          `found its heartbeat stale (a suspended machine, a stalled connection, clocks apart) and removed it, and its work units ` +
          `were taken over by the others. It stopped taking work and shut down: start it again to rejoin.`,
      );
      this.name = 'InstanceLostError';
      return;
    }
    const who = successor
      ? `another daemon, pid ${successor.pid} on host ${successor.host} (version ${successor.version}, started ${successor.startedAt}), took it over`
      : 'its row was removed (another daemon took it over and has stopped since, or the database was reset)';
    const stopOther = successor ? `stop one of the two (on ${successor.host}: kill ${successor.pid}) or point database.sqlitePath at another file` : 'make sure no other daemon uses it';
    super(
      `this daemon (pid ${self.pid} on host ${self.host}) lost its registration in the database ${path}: ${who}. ` +
        `Two daemons on one SQLite file would answer issues twice, so this one stopped taking work and shut down. ` +
        `A registration is taken over when its heartbeat looks stale (a suspended machine, a stalled disk, clocks apart): ` +
        `${stopOther}, then start this one again.`,
    );
    this.name = 'InstanceLostError';
  }
}

export interface InstanceRegistryOptions {
  readonly version: string;
  /** How long a daemon on another host stays live without a heartbeat. */
  readonly staleAfterMs: number;
  /**
   * Whether several daemons share the database (PostgreSQL): then a live
   * registration of another daemon is no conflict. Default false (SQLite: one
   * daemon per file).
   */
  readonly shared?: boolean;
  readonly now?: () => Date;
  /** Default: signal 0 (see processAlive). */
  readonly isAlive?: (pid: number) => boolean;
}

export class SqlInstanceRegistry {
  readonly #now: () => Date;
  readonly #isAlive: (pid: number) => boolean;

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly self: InstanceIdentity,
    private readonly options: InstanceRegistryOptions,
  ) {
    this.#now = options.now ?? (() => new Date());
    this.#isAlive = options.isAlive ?? processAlive;
  }

  /**
   * Records this daemon, unless the database is not shared and another live
   * one is registered: then throws InstanceConflictError and records nothing.
   * Stale registrations are removed.
   */
  async register(path: string): Promise<void> {
    const now = this.#now().toISOString();
    await this.db.transaction().execute(async (trx) => {
      // Write first: the write lock serialises two daemons starting at once, so
      // the second one reads the first one's row.
      await trx
        .insertInto('instances')
        .values({ id: this.self.id, host: this.self.host, pid: this.self.pid, version: this.options.version, started_at: now, heartbeat_at: now })
        .execute();
      if (this.options.shared === true) return this.#removeStale(trx);
      const others = await trx.selectFrom('instances').selectAll().where('id', '!=', this.self.id).orderBy('started_at').execute();
      const live = others.map(toRecord).find((other) => this.#live(other));
      if (live) throw new InstanceConflictError(path, live, this.options.staleAfterMs);
      if (others.length > 0) await trx.deleteFrom('instances').where('id', 'in', others.map((o) => o.id)).execute();
    });
  }

  /**
   * Renews this daemon's heartbeat; false when its row is gone (another daemon
   * took over). On a shared database it also removes the registrations gone stale.
   */
  async heartbeat(): Promise<boolean> {
    const result = await this.db.updateTable('instances').set({ heartbeat_at: this.#now().toISOString() }).where('id', '=', this.self.id).executeTakeFirst();
    const beating = Number(result.numUpdatedRows) > 0;
    if (beating && this.options.shared === true) await this.#removeStale(this.db);
    return beating;
  }

  /**
   * The other daemons registered and live by the rule `register` applies, for
   * commands that must not change the database under a running daemon. None
   * before the registry's migration (004) is applied.
   */
  async liveOthers(): Promise<InstanceRecord[]> {
    if (!(await tableExists(this.db, 'instances'))) return [];
    const rows = await this.db.selectFrom('instances').selectAll().where('id', '!=', this.self.id).orderBy('started_at').execute();
    return rows.map(toRecord).filter((other) => this.#live(other));
  }

  /** Who holds the database now that this daemon's row is gone: the newest other registration, if any. */
  async lost(path: string): Promise<InstanceLostError> {
    // Naming the successor is a courtesy: an unreadable list must not hide that the registration is gone.
    const others = (await this.list().catch(() => [])).filter((other) => other.id !== this.self.id);
    return new InstanceLostError(path, this.self, others.at(-1), this.options.shared === true);
  }

  async unregister(): Promise<void> {
    await this.db.deleteFrom('instances').where('id', '=', this.self.id).execute();
  }

  async list(): Promise<InstanceRecord[]> {
    const rows = await this.db.selectFrom('instances').selectAll().orderBy('started_at').execute();
    return rows.map(toRecord);
  }

  /** Deletes the other registrations that are not live (dead pid on this host, stale heartbeat from another). */
  async #removeStale(db: Kysely<Schema> | Transaction<Schema>): Promise<void> {
    const others = await db.selectFrom('instances').selectAll().where('id', '!=', this.self.id).execute();
    const stale = others.map(toRecord).filter((other) => !this.#live(other));
    if (stale.length > 0) await db.deleteFrom('instances').where('id', 'in', stale.map((other) => other.id)).execute();
  }

  #live(other: InstanceRecord): boolean {
    if (other.host === this.self.host) return other.pid !== this.self.pid && this.#isAlive(other.pid);
    return this.#now().getTime() - Date.parse(other.heartbeatAt) < this.options.staleAfterMs;
  }
}

function toRecord(row: Selectable<InstancesTable>): InstanceRecord {
  return { id: row.id, host: row.host, pid: row.pid, version: row.version, startedAt: row.started_at, heartbeatAt: row.heartbeat_at };
}
