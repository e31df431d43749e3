/**
 * Which work units a daemon takes and gives up at a heartbeat (decision 010):
 * a pure function of every unit's lease, the live daemons and who is asking.
 *
 * - **Orphaned** units are always taken: a lease that ran out (its holder
 *   died or stalled), or a unit nobody took for a whole TTL. Coverage first:
 *   a dead daemon's repositories are walked again at once, the balance is
 *   restored afterwards.
 * - **Free** units (released or new) are taken up to the fair share,
 *   ceil(units / live daemons); only up to floor(units / live) while another
 *   live daemon holds fewer than that, so what is released for it is left to it.
 * - **Release** what is above the fair share, and, while another live daemon
 *   holds fewer than floor(units / live), down to that floor: a returning
 *   daemon gets its share. Never in a heartbeat that took orphaned units (the
 *   fleet settles first). Once every daemon holds floor or ceil nothing
 *   moves: no thrash.
 *
 * The singletons (discovery, one stream per organisation) and the repositories
 * are shared separately, so the singletons spread over the daemons too instead
 * of landing on whoever started first.
 */

export const DISCOVERY_UNIT = 'discovery';
const STREAM_PREFIX = 'stream:';
const REPOSITORY_PREFIX = 'repo:';

/** The unit of an organisation's issue stream (organisation names ignore case). */
export function streamUnit(organization: string): string {
  return `${STREAM_PREFIX}${organization.toLowerCase()}`;
}

/** The unit of a fleet member: its walks (periodic or nudged) and its sweeps. */
export function repositoryUnit(repositoryId: number): string {
  return `${REPOSITORY_PREFIX}${repositoryId}`;
}

/** The repository id of a `repo:<id>` unit; undefined for any other unit. */
export function repositoryOfUnit(unit: string): number | undefined {
  if (!unit.startsWith(REPOSITORY_PREFIX)) return undefined;
  const id = Number(unit.slice(REPOSITORY_PREFIX.length));
  return Number.isSafeInteger(id) ? id : undefined;
}

export interface UnitLease {
  readonly unit: string;
  /** The holder's instance id; null while free. */
  readonly owner: string | null;
  /** Epoch ms: when the lease runs out; for a free unit, when it became free; null: never set. */
  readonly expiresAt: number | null;
}

export interface ShareInput {
  /** Every unit. */
  readonly leases: readonly UnitLease[];
  /** The live daemons' instance ids (`self` counts whether listed or not). */
  readonly live: readonly string[];
  readonly self: string;
  /** Epoch ms. */
  readonly now: number;
  /** The lease TTL: a unit free this long is orphaned. */
  readonly ttlMs: number;
}

export interface ShareDecision {
  /** Units to take (free or expired), sorted. */
  readonly take: string[];
  /** Units this daemon holds and gives up, sorted. */
  readonly release: string[];
}

export function decideShare(input: ShareInput): ShareDecision {
  const live = new Set([...input.live, input.self]);
  const take: string[] = [];
  const release: string[] = [];
  for (const group of groups(input.leases)) {
    const decision = decideGroup(group, live, input);
    take.push(...decision.take);
    release.push(...decision.release);
  }
  return { take: take.sort(), release: release.sort() };
}

function decideGroup(leases: readonly UnitLease[], live: ReadonlySet<string>, input: ShareInput): ShareDecision {
  const { self, now, ttlMs } = input;
  const ceil = Math.ceil(leases.length / live.size);
  const floor = Math.floor(leases.length / live.size);
  const held = new Map<string, number>();
  const mine: string[] = [];
  const orphaned: string[] = [];
  const free: string[] = [];
  for (const lease of leases) {
    if (lease.owner !== null && lease.expiresAt !== null && lease.expiresAt > now) {
      held.set(lease.owner, (held.get(lease.owner) ?? 0) + 1);
      if (lease.owner === self) mine.push(lease.unit);
    } else if (lease.owner !== null || lease.expiresAt === null || lease.expiresAt <= now - ttlMs) {
      orphaned.push(lease.unit);
    } else {
      free.push(lease.unit);
    }
  }
  const starving = [...live].some((daemon) => daemon !== self && (held.get(daemon) ?? 0) < floor);
  const cap = starving ? floor : ceil;
  const take = [...orphaned];
  const room = cap - mine.length - take.length;
  if (room > 0) take.push(...preferred(free, self).slice(0, room));
  if (orphaned.length > 0) return { take, release: [] };
  const keep = starving ? floor : ceil;
  const excess = mine.length + take.length - keep;
  // The least preferred go: each daemon keeps the units it would pick first, so a release is not undone.
  const release = excess > 0 ? preferred(mine, self).slice(-excess) : [];
  return { take, release };
}

/** The units split into singletons and repositories, each shared on its own. */
function groups(leases: readonly UnitLease[]): UnitLease[][] {
  const repositories = leases.filter((lease) => lease.unit.startsWith(REPOSITORY_PREFIX));
  const singletons = leases.filter((lease) => !lease.unit.startsWith(REPOSITORY_PREFIX));
  return [singletons, repositories];
}

/**
 * The units in this daemon's order of preference: a hash of (daemon, unit),
 * different for each daemon, so daemons taking free units at the same moment
 * mostly reach for different ones.
 */
function preferred(units: readonly string[], self: string): string[] {
  return units
    .map((unit) => ({ unit, rank: fnv1a(`${self}\n${unit}`) }))
    .sort((a, b) => a.rank - b.rank || (a.unit < b.unit ? -1 : 1))
    .map((entry) => entry.unit);
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
