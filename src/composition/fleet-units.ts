/**
 * The fleet's work units kept in step with its membership, across daemons
 * sharing one database (decision 010):
 * - a member that joins gets its `repo:<id>` unit, one that leaves takes it
 *   along (written in batches: a discovery adding 300 members is one insert);
 * - a daemon whose membership changed (its discovery, or a sweep dropping a
 *   member) bumps a version in the state table; every other daemon sees the
 *   version move at its next lease heartbeat and reloads the members from the
 *   store, so a daemon that does not hold `discovery` still follows the fleet;
 * - how far each organisation's stream has read is taken from the stream's
 *   stored cursor on the daemons that do not read it, so their reconciliation
 *   sweeps can tell a change the stream missed from one it has not reached.
 */
import { randomUUID } from 'node:crypto';
import { DISCOVERY_UNIT, repositoryUnit, streamUnit } from '../domain/fleet/lease-share.js';
import type { Fleet } from '../domain/fleet/fleet.js';
import { instant } from '../domain/fleet/sweep-schedule.js';
import { scopeKey, type FleetEntry } from '../domain/fleet/types.js';
import type { Log } from '../domain/ports.js';
import type { SqlScopeSyncStore, SqlStateStore } from '../infra/store/index.js';
import type { WorkLeases } from './work-leases.js';

/** A token that changes whenever a daemon changed the fleet's membership (SqlStateStore key). */
export const MEMBERSHIP_VERSION_STATE_KEY = 'fleet.membershipVersion';

export interface FleetUnitsDeps {
  readonly leases: WorkLeases;
  readonly fleet: Fleet;
  readonly state: SqlStateStore;
  readonly scopes: SqlScopeSyncStore;
  readonly log: Log;
  /** The members this daemon's configuration wants, as the store holds them now, with their watermarks. */
  readonly members: () => Promise<{ readonly entries: FleetEntry[]; readonly watermarks: ReadonlyMap<number, string> }>;
  /** Organisations whose streams run (none when detection does not stream). */
  readonly streamed: () => readonly string[];
  /** Whether discovery runs (github.organizations is not empty). */
  readonly discovers: boolean;
}

export class FleetUnits {
  readonly #deps: FleetUnitsDeps;
  readonly #ensure = new Set<string>();
  readonly #retire = new Set<string>();
  #writing: Promise<void> = Promise.resolve();
  #writePending = false;
  /** Membership changed here since the last bump. */
  #dirty = false;
  /** Reloading what another daemon changed: not a change of ours to announce. */
  #reloading = false;
  /** The version this daemon's membership matches. */
  #seen: string | null = null;

  constructor(deps: FleetUnitsDeps) {
    this.#deps = deps;
  }

  /** The singletons: discovery and one stream per organisation streamed. */
  singletons(): string[] {
    return [...(this.#deps.discovers ? [DISCOVERY_UNIT] : []), ...this.#deps.streamed().map(streamUnit)];
  }

  /** Before the members are loaded: the version they match (a bump after this is reloaded). */
  async loading(): Promise<void> {
    this.#seen = await this.#version();
  }

  /** At start: every unit of the fleet exists, and no other (members or organisations no longer watched). */
  async sync(): Promise<void> {
    const wanted = new Set([...this.singletons(), ...[...this.#deps.fleet.members()].map((member) => repositoryUnit(member.partition.repositoryId))]);
    const existing = (await this.#deps.leases.units()).filter((unit) => !wanted.has(unit));
    await this.#deps.leases.ensure([...wanted]);
    if (existing.length > 0) await this.#deps.leases.retire(existing);
  }

  joined(repositoryId: number): void {
    this.#retire.delete(repositoryUnit(repositoryId));
    this.#ensure.add(repositoryUnit(repositoryId));
    this.changed();
    this.#write();
  }

  left(repositoryId: number): void {
    this.#ensure.delete(repositoryUnit(repositoryId));
    this.#retire.add(repositoryUnit(repositoryId));
    this.changed();
    this.#write();
  }

  /** A change other daemons must reload (a rename too). */
  changed(): void {
    if (!this.#reloading) this.#dirty = true;
  }

  /** Waits for the unit writes queued so far. */
  flush(): Promise<void> {
    return this.#writing;
  }

  /** Each lease heartbeat: announce our change, or reload another's; then follow the streams we do not read. */
  async ticked(): Promise<void> {
    if (this.#ensure.size + this.#retire.size > 0) this.#write();
    await this.flush();
    const current = await this.#version();
    if (this.#dirty) {
      this.#dirty = false;
      const next = randomUUID();
      await this.#deps.state.put(MEMBERSHIP_VERSION_STATE_KEY, next);
      // Another daemon's change since we last looked is reloaded as well.
      if (current === this.#seen) this.#seen = next;
      else await this.#reload(next);
    } else if (current !== this.#seen) {
      await this.#reload(current);
    }
    await this.#followStreams();
  }

  async #reload(version: string | null): Promise<void> {
    const { entries, watermarks } = await this.#deps.members();
    this.#reloading = true;
    try {
      this.#deps.fleet.load(entries, watermarks);
    } finally {
      this.#reloading = false;
    }
    this.#seen = version;
    this.#deps.log.debug({ members: this.#deps.fleet.size }, 'the fleet changed on another daemon: members reloaded from the store');
  }

  async #followStreams(): Promise<void> {
    for (const organization of this.#deps.streamed()) {
      if (this.#deps.leases.holds(streamUnit(organization))) continue;
      const { since } = await this.#deps.scopes.cursor(scopeKey({ kind: 'organization', org: organization }));
      // The rule the stream applies to its own pages: everything updated before the saved `since` was read.
      if (since !== null) this.#deps.fleet.streamed(organization, instant(since) - 1);
    }
  }

  async #version(): Promise<string | null> {
    return (await this.#deps.state.get<string>(MEMBERSHIP_VERSION_STATE_KEY))?.value ?? null;
  }

  /** One write at a time, each taking everything queued until it starts. */
  #write(): void {
    if (this.#writePending) return;
    this.#writePending = true;
    this.#writing = this.#writing
      .then(async () => {
        this.#writePending = false;
        const ensure = [...this.#ensure];
        const retire = [...this.#retire];
        this.#ensure.clear();
        this.#retire.clear();
        try {
          if (ensure.length > 0) await this.#deps.leases.ensure(ensure);
          if (retire.length > 0) await this.#deps.leases.retire(retire);
        } catch (error) {
          // Tried again at the next heartbeat, unless a later change overrode them meanwhile.
          for (const unit of ensure) if (!this.#retire.has(unit)) this.#ensure.add(unit);
          for (const unit of retire) if (!this.#ensure.has(unit)) this.#retire.add(unit);
          this.#deps.log.warn({ error: String(error) }, `could not record the fleet's work units; retrying at the next heartbeat: ${String(error)}`);
        }
      });
  }
}
