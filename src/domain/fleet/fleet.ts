/**
 * The fleet in memory: every member, its detection path, how far its stored
 * issues go (the watermark) and when it is swept next. Plain objects and three
 * indexes; no timers: the sweeper asks what is due, the walk runner is told
 * through listeners. The store stays the truth; this is what the detectors
 * consult on every page and every sweep without a query.
 */
import type { Partition, RepositoryRef } from '../entities.js';
import { choosePaths, type PathPolicy } from './paths.js';
import { instant, jitter, pickDue, sweepInterval, type FleetIntervals } from './sweep-schedule.js';
import type { DetectionPath, FleetEntry, MemberSource, SweepOutcome } from './types.js';

export interface FleetMember {
  readonly partition: Partition;
  readonly githubId: number | null;
  readonly source: MemberSource;
  readonly organization: string | null;
  readonly path: DetectionPath;
  /** Why this path, for `status`. */
  readonly pathReason: string;
  /** The newest `updated_at` stored (or asked for by a nudge), ISO; null when none. */
  readonly watermark: string | null;
  /** When it joined the fleet (the backlog cutoff's base), ISO; null until then. */
  readonly firstSyncedAt: string | null;
  /** Epoch ms of the latest change seen; null when none was. */
  readonly lastChangeAt: number | null;
  /** Epoch ms of its next sweep; Infinity on the walk path. */
  readonly nextSweepAt: number;
}

/** What the composition hears, to keep the walk runner in step. */
export interface FleetListener {
  added?(member: FleetMember): void;
  removed?(member: FleetMember): void;
  pathChanged?(member: FleetMember, previous: DetectionPath): void;
  /** Its owner or name changed (a rename or transfer GitHub reported). */
  renamed?(member: FleetMember, previous: RepositoryRef): void;
  /** It changed and nothing that already covers it will fetch the change: walk it now. */
  nudged?(member: FleetMember): void;
}

/**
 * What a sweep result meant for the member:
 * - `unchanged`: GitHub's latest update is not newer than the watermark;
 * - `nudged`: newer, walked now (listeners told);
 * - `pending`: newer, but its organisation's stream has not read that far yet and will bring it;
 * - `failed`: GitHub could not say (per repository); tried again at its next sweep;
 * - `walk`: the failure repeated: moved to the walk path, whose poll reports the real error;
 * - `drop`: a discovered member GitHub keeps saying is gone: the caller drops it;
 * - `gone`: not a member (any more).
 */
export type SweepVerdict =
  | { readonly verdict: 'unchanged' | 'nudged' | 'pending' | 'failed' | 'gone' }
  | { readonly verdict: 'walk' | 'drop'; readonly reason: string };

export interface FleetOptions {
  /** The current intervals (the capacity projection stretches them). */
  readonly intervals: () => FleetIntervals;
  /** The current path policy: detection mode, working streams, walk capacity. */
  readonly policy: () => PathPolicy;
  /** Whether this daemon sweeps the member (it holds the member's work unit). Default: every member. */
  readonly sweeps?: (repositoryId: number) => boolean;
  /** Default Date.now. */
  readonly now?: () => number;
}

/** A per-repository sweep failure repeated this many times in a row moves the member. */
const REPEATS = 2;

interface Member {
  partition: Partition;
  githubId: number | null;
  source: MemberSource;
  organization: string | null;
  path: DetectionPath;
  pathReason: string;
  watermark: string | null;
  watermarkAt: number;
  firstSyncedAt: string | null;
  lastChangeAt: number | null;
  nextSweepAt: number;
  /** The latest sweep failure, when the sweeps since failed the same way. */
  failure: { readonly error: string; count: number } | null;
  /** Set when sweeps cannot see it: the walk path whatever the policy says. */
  pinnedToWalk: string | null;
}

export class Fleet {
  readonly #byId = new Map<number, Member>();
  readonly #byGithubId = new Map<number, Member>();
  readonly #byName = new Map<string, Member>();
  /** Per organisation (lower-case): epoch ms up to which its stream has read every change. */
  readonly #streamedThrough = new Map<string, number>();
  readonly #listeners = new Set<FleetListener>();
  readonly #options: FleetOptions;
  readonly #now: () => number;

  constructor(options: FleetOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  subscribe(listener: FleetListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get size(): number {
    return this.#byId.size;
  }

  members(): IterableIterator<FleetMember> {
    return this.#byId.values();
  }

  /** Replaces the membership with what the store holds; listeners hear every addition and removal. */
  load(entries: readonly FleetEntry[], watermarks: ReadonlyMap<number, string>): void {
    const keep = new Set(entries.map((entry) => entry.repositoryId));
    const removed = [...this.#byId.values()].filter((member) => !keep.has(member.partition.repositoryId));
    for (const member of removed) this.#unindex(member);
    const added: Member[] = [];
    for (const entry of entries) {
      const known = this.#byId.get(entry.repositoryId);
      const watermark = watermarks.get(entry.repositoryId);
      if (known) {
        // Joined earlier (the first discovery, in setup) without what the store holds.
        this.#refresh(known, entry);
        if (watermark !== undefined) this.#raise(known, watermark);
      } else added.push(this.#add(entry, watermark ?? null));
    }
    this.#settle(added, removed);
  }

  /**
   * What discovery found in one organisation (FleetStore.syncOrganization):
   * `added` join, `dropped` leave, `members` refresh the names of those known
   * (and join any the fleet missed).
   */
  join(result: { readonly added: readonly FleetEntry[]; readonly dropped: readonly FleetEntry[]; readonly members: readonly FleetEntry[] }): void {
    const removed: Member[] = [];
    for (const entry of result.dropped) {
      const member = this.#byId.get(entry.repositoryId);
      if (member) {
        this.#unindex(member);
        removed.push(member);
      }
    }
    const added: Member[] = [];
    for (const entry of [...result.added, ...result.members]) {
      const known = this.#byId.get(entry.repositoryId);
      if (known) this.#refresh(known, entry);
      else added.push(this.#add(entry, null));
    }
    this.#settle(added, removed);
  }

  /** One member leaves (dropped by the caller, e.g. gone from GitHub). */
  leave(repositoryId: number): void {
    const member = this.#byId.get(repositoryId);
    if (!member) return;
    this.#unindex(member);
    this.#settle([], [member]);
  }

  /** Chooses every member's path again (the streams' health or the budget changed); listeners hear each change. */
  repath(): void {
    this.#repath(new Set());
  }

  byRepositoryId(repositoryId: number): FleetMember | undefined {
    return this.#byId.get(repositoryId);
  }

  byGithubId(githubId: number): FleetMember | undefined {
    return this.#byGithubId.get(githubId);
  }

  /** Case-insensitive, as GitHub names are. */
  byName(repository: RepositoryRef): FleetMember | undefined {
    return this.#byName.get(nameKey(repository));
  }

  /** The member a stream item belongs to: by GitHub id, else by name (a member not validated yet has no id). */
  forStreamItem(repository: { readonly githubId: number; readonly owner: string; readonly name: string }): FleetMember | undefined {
    return this.#byGithubId.get(repository.githubId) ?? this.byName(repository);
  }

  /** Every member that is not yet marked as joined (no first sync time). */
  unjoined(): number[] {
    return [...this.#byId.values()].filter((member) => member.firstSyncedAt === null).map((member) => member.partition.repositoryId);
  }

  /** The store set their first sync time (FleetStore.markJoined) at `at`. */
  joined(repositoryIds: readonly number[], at: string): void {
    for (const id of repositoryIds) {
      const member = this.#byId.get(id);
      if (member && member.firstSyncedAt === null) member.firstSyncedAt = at;
    }
  }

  /**
   * Newer issues of the repository were stored (by a stream page): raise its
   * watermark, and reconcile it as often as its latest change on GitHub says
   * (busy within a day: at the base interval).
   */
  changed(repositoryId: number, newestUpdatedAt: string): void {
    const member = this.#byId.get(repositoryId);
    if (!member) return;
    const now = this.#now();
    this.#raise(member, newestUpdatedAt);
    // Busy or quiet by when GitHub says it changed, not when we read it: a
    // fleet's history arriving at once must not make every repository busy.
    const changedAt = Math.min(now, instant(newestUpdatedAt));
    if (changedAt > (member.lastChangeAt ?? Number.NEGATIVE_INFINITY)) member.lastChangeAt = changedAt;
    const next = now + sweepInterval(member.path, member.lastChangeAt, now, this.#options.intervals());
    if (next < member.nextSweepAt) member.nextSweepAt = next;
  }

  /** The organisation's stream has read every change up to `through` (epoch ms); never moves back. */
  streamed(organization: string, through: number): void {
    const key = organization.toLowerCase();
    if (!(through > (this.#streamedThrough.get(key) ?? Number.NEGATIVE_INFINITY))) return;
    this.#streamedThrough.set(key, through);
  }

  /**
   * Members due for a sweep at `now`, the longest overdue first, at most
   * `limit`. With `fillTo` (the batch size), when any is due the last batch is
   * topped up with the members due soonest: a query costs the same however few
   * repositories it asks about, so ten thousand reconciliations spread over
   * half an hour cost full batches, not one query per handful.
   */
  dueForSweep(now: number, limit: number, fillTo = 1): FleetMember[] {
    const held = this.#options.sweeps;
    return pickDue(held ? [...this.#byId.values()].filter((m) => held(m.partition.repositoryId)) : this.#byId.values(), now, limit, fillTo);
  }

  /** What a sweep found for the member: nudge it, move it, or have it dropped; then schedule its next sweep. */
  swept(repositoryId: number, outcome: SweepOutcome, now: number): SweepVerdict {
    const member = this.#byId.get(repositoryId);
    if (!member) return { verdict: 'gone' };
    if (!outcome.ok) return this.#sweepFailed(member, outcome, now);
    member.failure = null;
    const verdict = this.#compare(member, outcome.latestUpdatedAt, now);
    member.nextSweepAt = now + sweepInterval(member.path, member.lastChangeAt, now, this.#options.intervals());
    if (verdict === 'nudged') for (const listener of this.#listeners) listener.nudged?.(member);
    return { verdict };
  }

  /** How often the walk runner walks the member on its own: walk path at walkMs, the others only when nudged (null). */
  walkIntervalOf(member: FleetMember): number | null {
    return member.path === 'walk' ? this.#options.intervals().walkMs : null;
  }

  /** How many members each path has, for `status`. */
  counts(): Record<DetectionPath, number> {
    const counts: Record<DetectionPath, number> = { walk: 0, stream: 0, sweep: 0 };
    for (const member of this.#byId.values()) counts[member.path]++;
    return counts;
  }

  #compare(member: Member, latest: string | null, now: number): 'unchanged' | 'nudged' | 'pending' {
    const at = instant(latest);
    if (latest === null || !(at > member.watermarkAt)) return 'unchanged';
    if (member.path === 'stream') {
      // Newer than what is stored, but the stream may just not have read that far (a fleet's first sync).
      const through = this.#streamedThrough.get(member.partition.owner.toLowerCase());
      if (through === undefined || at > through) return 'pending';
    }
    // The walk will store it: raising the watermark now keeps the next sweeps from nudging again.
    this.#raise(member, latest);
    member.lastChangeAt = now;
    return 'nudged';
  }

  #sweepFailed(member: Member, outcome: Extract<SweepOutcome, { ok: false }>, now: number): SweepVerdict {
    const count = member.failure?.error === outcome.error ? member.failure.count + 1 : 1;
    member.failure = { error: outcome.error, count };
    // Sooner than a quiet member's stretched interval, to confirm or clear the failure.
    member.nextSweepAt = now + sweepInterval(member.path, now, now, this.#options.intervals());
    if (outcome.error === 'other' || count < REPEATS) return { verdict: 'failed' };
    const what = outcome.error === 'not-found' ? 'not found' : 'forbidden';
    if (outcome.error === 'not-found' && member.source === 'discovered') {
      return { verdict: 'drop', reason: `GitHub said ${what} ${count} times in a row: ${outcome.message}` };
    }
    const reason = `walked: sweeps could not read it (${what} ${count} times in a row: ${outcome.message}); its poll reports why`;
    member.pinnedToWalk = reason;
    member.pathReason = reason;
    if (member.path !== 'walk') {
      const previous = member.path;
      member.path = 'walk';
      member.nextSweepAt = Number.POSITIVE_INFINITY;
      for (const listener of this.#listeners) listener.pathChanged?.(member, previous);
    }
    return { verdict: 'walk', reason };
  }

  #raise(member: Member, updatedAt: string): void {
    const at = instant(updatedAt);
    if (at > member.watermarkAt) {
      member.watermark = updatedAt;
      member.watermarkAt = at;
    }
  }

  #add(entry: FleetEntry, watermark: string | null): Member {
    const watermarkAt = instant(watermark);
    const member: Member = {
      partition: partitionOf(entry),
      githubId: entry.githubId,
      source: entry.source,
      organization: entry.organization,
      path: 'walk',
      pathReason: '',
      watermark,
      watermarkAt,
      firstSyncedAt: entry.firstSyncedAt,
      // The newest stored change is the latest one seen; none: quiet.
      lastChangeAt: Number.isFinite(watermarkAt) ? watermarkAt : null,
      nextSweepAt: Number.POSITIVE_INFINITY,
      failure: null,
      pinnedToWalk: null,
    };
    this.#index(member);
    return member;
  }

  /** A known member listed again: GitHub's current name, and what the store says. */
  #refresh(member: Member, entry: FleetEntry): void {
    const previous = member.partition;
    if (entry.githubId !== null && entry.githubId !== member.githubId) {
      if (member.githubId !== null) this.#byGithubId.delete(member.githubId);
      member.githubId = entry.githubId;
      this.#byGithubId.set(entry.githubId, member);
    }
    member.source = entry.source;
    member.organization = entry.organization;
    if (member.firstSyncedAt === null) member.firstSyncedAt = entry.firstSyncedAt;
    if (previous.owner === entry.owner && previous.name === entry.name) return;
    this.#byName.delete(nameKey(previous));
    member.partition = partitionOf(entry);
    this.#byName.set(nameKey(member.partition), member);
    for (const listener of this.#listeners) listener.renamed?.(member, { owner: previous.owner, name: previous.name });
  }

  /** Paths for everyone (new members take theirs before anyone hears of them), then the news. */
  #settle(added: readonly Member[], removed: readonly Member[]): void {
    for (const member of removed) for (const listener of this.#listeners) listener.removed?.(member);
    this.#repath(new Set(added));
    for (const member of added) for (const listener of this.#listeners) listener.added?.(member);
  }

  /** `fresh`: members that just joined: their first path is not a change anyone needs to hear about. */
  #repath(fresh: ReadonlySet<Member>): void {
    const now = this.#now();
    const candidates = [...this.#byId.values()].filter((member) => member.pinnedToWalk === null).map((member) => member.partition);
    const choices = choosePaths(candidates, this.#options.policy());
    const changed: Array<[Member, DetectionPath]> = [];
    for (const [repositoryId, choice] of choices) {
      const member = this.#byId.get(repositoryId);
      if (!member) continue;
      member.pathReason = choice.reason;
      if (member.path === choice.path) continue;
      if (!fresh.has(member)) changed.push([member, member.path]);
      member.path = choice.path;
      this.#scheduleFirstSweep(member, now);
    }
    for (const [member, previous] of changed) for (const listener of this.#listeners) listener.pathChanged?.(member, previous);
  }

  /**
   * A sweep-path member is swept at once: nothing else looks at it, and a
   * `run --once` must see every one. A stream-path member's reconciliation is
   * spread over its interval (its stream already covers it).
   */
  #scheduleFirstSweep(member: Member, now: number): void {
    const interval = sweepInterval(member.path, member.lastChangeAt, now, this.#options.intervals());
    if (member.path === 'sweep') member.nextSweepAt = now;
    else member.nextSweepAt = Number.isFinite(interval) ? now + Math.floor(jitter(member.partition.repositoryId) * interval) : interval;
  }

  #index(member: Member): void {
    this.#byId.set(member.partition.repositoryId, member);
    if (member.githubId !== null) this.#byGithubId.set(member.githubId, member);
    this.#byName.set(nameKey(member.partition), member);
  }

  #unindex(member: Member): void {
    this.#byId.delete(member.partition.repositoryId);
    if (member.githubId !== null && this.#byGithubId.get(member.githubId) === member) this.#byGithubId.delete(member.githubId);
    if (this.#byName.get(nameKey(member.partition)) === member) this.#byName.delete(nameKey(member.partition));
  }
}

function partitionOf(entry: FleetEntry): Partition {
  return { owner: entry.owner, name: entry.name, repositoryId: entry.repositoryId };
}

function nameKey(repository: RepositoryRef): string {
  return `${repository.owner}/${repository.name}`.toLowerCase();
}
