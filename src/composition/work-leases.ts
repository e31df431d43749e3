/**
 * This daemon's work units (decision 010): every heartbeat it renews the
 * leases it holds, learns which it lost, and takes or gives up units by the
 * fair share (src/domain/fleet/lease-share.ts) among the live daemons of the
 * instance registry. Listeners hear what was acquired and what was lost, so
 * the fleet's wiring walks exactly the repositories this daemon holds.
 *
 * On SQLite one daemon owns the file, so it holds every unit; the same code
 * runs on PostgreSQL with any number of daemons.
 */
import { decideShare, type UnitLease } from '../domain/fleet/lease-share.js';
import type { Log } from '../domain/ports.js';
import type { InstanceRecord, SqlWorkLeaseStore } from '../infra/store/index.js';

/** How often leases are renewed and the share decided. */
export const WORK_LEASE_INTERVAL_MS = 5_000;
/** How long a lease holds without renewal: a dead daemon's units are taken 15 to 20 s after its last heartbeat. */
export const WORK_LEASE_TTL_MS = 15_000;

export interface WorkLeaseListener {
  /** Units this daemon now holds. */
  acquired?(units: readonly string[]): void;
  /** Units this daemon no longer holds (released, taken by another, retired, or not renewed in time): stop their work at once. */
  lost?(units: readonly string[]): void;
  /** After each heartbeat (the fleet checks whether its membership changed elsewhere). */
  ticked?(): Promise<void>;
}

export interface WorkLeasesOptions {
  readonly store: SqlWorkLeaseStore;
  /** The daemons registered; a daemon counts as live while its heartbeat is younger than `liveWithinMs`. */
  readonly instances: { list(): Promise<InstanceRecord[]> };
  readonly log: Log;
  /** Default WORK_LEASE_INTERVAL_MS (5 s). */
  readonly intervalMs?: number;
  /** Default WORK_LEASE_TTL_MS (15 s). */
  readonly ttlMs?: number;
  /**
   * Default: the TTL. A daemon whose registration has not beaten for a lease's
   * TTL holds no lease either; counting it live would keep the others from
   * taking its share.
   */
  readonly liveWithinMs?: number;
  /** Default Date.now. */
  readonly now?: () => number;
}

export class WorkLeases {
  readonly #store: SqlWorkLeaseStore;
  readonly #options: WorkLeasesOptions;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #listeners = new Set<WorkLeaseListener>();
  #held = new Set<string>();
  /** When the leases were last renewed (epoch ms): past a TTL without one, everything counts as lost. */
  #renewedAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> = Promise.resolve();
  #tickPending = false;
  #started: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: WorkLeasesOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#ttlMs = options.ttlMs ?? WORK_LEASE_TTL_MS;
    this.#now = options.now ?? Date.now;
    const interval = options.intervalMs ?? WORK_LEASE_INTERVAL_MS;
    if (!(interval > 0 && interval < this.#ttlMs)) {
      throw new RangeError(`the work lease interval (${interval} ms) must be positive and shorter than the lease TTL (${this.#ttlMs} ms), or leases run out between renewals`);
    }
  }

  /** This daemon's instance id. */
  get self(): string {
    return this.#store.owner;
  }

  subscribe(listener: WorkLeaseListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  holds(unit: string): boolean {
    return this.#held.has(unit);
  }

  held(): ReadonlySet<string> {
    return this.#held;
  }

  /** Every unit, held or not. */
  async units(): Promise<string[]> {
    return (await this.#store.list()).map((lease) => lease.unit);
  }

  /** Units that appeared (idempotent; any daemon may ensure the same unit). */
  ensure(units: readonly string[]): Promise<void> {
    return this.#store.ensure(units);
  }

  /** Units that left: deleted; held ones are dropped here without telling listeners (their work left with them). */
  async retire(units: readonly string[]): Promise<void> {
    await this.#store.retire(units);
    for (const unit of units) this.#held.delete(unit);
  }

  /** The first heartbeat (awaited: units are taken before anything asks), then one every interval. Idempotent. */
  start(): Promise<void> {
    this.#started ??= (async () => {
      await this.tick();
      if (this.#stopping) return;
      this.#timer = setInterval(() => {
        // A heartbeat still running (a slow database) is not queued behind: the next one comes.
        if (!this.#tickPending) void this.tick();
      }, this.#options.intervalMs ?? WORK_LEASE_INTERVAL_MS);
      this.#timer.unref();
    })();
    return this.#started;
  }

  /** One heartbeat now (after any in flight): renew, decide, release, take. Never rejects. */
  tick(): Promise<void> {
    this.#tickPending = true;
    this.#ticking = this.#ticking.then(async () => {
      this.#tickPending = false;
      if (this.#stopping) return;
      try {
        await this.#beat();
      } catch (error) {
        this.#options.log.warn({ error: String(error) }, `could not renew or balance the work leases; retrying at the next heartbeat: ${String(error)}`);
      }
    });
    return this.#ticking;
  }

  /** Stops the heartbeats and releases every lease, so other daemons take the units at once. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      clearInterval(this.#timer);
      await this.#ticking;
      const held = [...this.#held];
      this.#held = new Set();
      if (held.length > 0) this.#tell('lost', held);
      try {
        const released = await this.#store.releaseAll();
        if (released.length > 0) this.#options.log.info({ units: released.length }, `released ${released.length} work units for the other daemons`);
      } catch (error) {
        this.#options.log.warn({ error: String(error) }, `could not release the work leases; other daemons take them when they run out in ${this.#ttlMs / 1000}s`);
      }
    })();
    return this.#stopping;
  }

  async #beat(): Promise<void> {
    const { log } = this.#options;
    let renewed: string[];
    try {
      renewed = await this.#store.renew(this.#ttlMs);
      this.#renewedAt = this.#now();
    } catch (error) {
      // Past a TTL without renewal another daemon may hold them: stop their work rather than do it twice.
      if (this.#now() - this.#renewedAt >= this.#ttlMs && this.#held.size > 0) {
        const lost = [...this.#held];
        this.#held = new Set();
        log.warn({ units: lost.length }, `could not renew the work leases for ${this.#ttlMs / 1000}s: stopped the work of ${lost.length} units until they are taken again`);
        this.#tell('lost', lost);
      }
      throw error;
    }
    const still = new Set(renewed);
    const lost = [...this.#held].filter((unit) => !still.has(unit));
    this.#held = still;
    if (lost.length > 0) {
      log.warn({ units: lost.length, examples: lost.slice(0, 5) }, `lost ${lost.length} work units to another daemon or to their removal (${lost.slice(0, 5).join(', ')}): their work stopped here`);
      this.#tell('lost', lost);
    }
    await this.#balance();
    for (const listener of this.#listeners) await listener.ticked?.();
  }

  /** Takes and gives up units by the fair share. */
  async #balance(): Promise<void> {
    const now = this.#now();
    // A daemon killed on this host is unregistered by the next one to start: its units are free now, not a TTL later.
    const freed = await this.#store.freeUnregistered();
    if (freed > 0) this.#options.log.info({ units: freed }, `freed ${freed} work units held by daemons that are no longer registered`);
    const [rows, instances] = await Promise.all([this.#store.list(), this.#options.instances.list()]);
    const liveWithin = this.#options.liveWithinMs ?? this.#ttlMs;
    const live = instances.filter((instance) => now - Date.parse(instance.heartbeatAt) < liveWithin).map((instance) => instance.id);
    const leases: UnitLease[] = rows.map((row) => ({ unit: row.unit, owner: row.owner, expiresAt: row.expiresAt === null ? null : Date.parse(row.expiresAt) }));
    const decision = decideShare({ leases, live, self: this.self, now, ttlMs: this.#ttlMs });
    if (decision.release.length > 0) {
      await this.#store.release(decision.release);
      for (const unit of decision.release) this.#held.delete(unit);
      this.#options.log.info({ units: decision.release.length, live: live.length }, `released ${decision.release.length} work units to even the share among ${live.length} daemons`);
      this.#tell('lost', decision.release);
    }
    if (decision.take.length > 0) {
      const taken = await this.#store.acquire(decision.take, this.#ttlMs);
      for (const unit of taken) this.#held.add(unit);
      if (taken.length > 0) {
        this.#options.log.info({ units: taken.length, live: live.length }, `took ${taken.length} work units (${taken.slice(0, 5).join(', ')}${taken.length > 5 ? ', …' : ''})`);
        this.#tell('acquired', taken);
      }
    }
  }

  #tell(event: 'acquired' | 'lost', units: readonly string[]): void {
    for (const listener of this.#listeners) {
      try {
        listener[event]?.(units);
      } catch (error) {
        this.#options.log.error({ error: String(error) }, `a work lease listener failed on ${event}: ${String(error)}`);
      }
    }
  }
}
