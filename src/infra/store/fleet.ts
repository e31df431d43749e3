/**
 * The fleet's membership: configured repositories that passed setup and
 * repositories discovered in an organisation, kept in step with each listing;
 * each member's newest stored update (the sweep's watermark), its first sync
 * and its detection path. Written for 10,000 members: every write is chunked
 * and a listing is synced in one transaction.
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import { DETECTION_PATHS, type DetectionPath, type DiscoveredRepository, type FleetEntry } from '../../domain/fleet/types.js';
import type { FleetStore } from '../../domain/fleet/ports.js';
import { isPostgres } from './engine.js';
import { CHUNK } from './issue-writes.js';
import type { RepositoryRow, Schema } from './schema.js';

export interface FleetStoreOptions {
  readonly now?: () => Date;
}

type Row = Pick<RepositoryRow, (typeof COLUMNS)[number]>;

export class SqlFleetStore implements FleetStore {
  readonly #now: () => Date;

  constructor(
    private readonly db: Kysely<Schema>,
    options: FleetStoreOptions = {},
  ) {
    this.#now = options.now ?? (() => new Date());
  }

  async syncOrganization(
    org: string,
    listed: readonly DiscoveredRepository[],
  ): Promise<{ readonly added: FleetEntry[]; readonly dropped: FleetEntry[]; readonly members: FleetEntry[] }> {
    const now = this.#now().toISOString();
    return this.db.transaction().execute(async (trx) => {
      await lockRepositories(trx);
      const rows = await trx.selectFrom('repositories').select(COLUMNS).execute();
      const plan = planSync(org, rows, listed);
      await renameAll(trx, plan.renamed);
      await updateIn(trx, plan.returning.map((r) => r.id), { dropped_at: null, drop_reason: null, validated_at: now });
      const inserted = await insertAll(trx, org, plan.inserts, now);
      const reason = `no longer listed in the organisation ${org} (deleted, transferred, archived, no longer visible to the token, or left out by github.organizations filters)`;
      await updateIn(trx, plan.dropped.map((r) => r.id), { dropped_at: now, drop_reason: reason });
      const added = [...plan.returning.map(entryOf), ...inserted];
      const members = [...plan.members, ...added].sort((a, b) => a.repositoryId - b.repositoryId);
      return { added, dropped: plan.dropped.map(entryOf), members };
    });
  }

  async drop(repositoryId: number, reason: string): Promise<void> {
    // Only a discovered member: a configured repository is the operator's to remove.
    await this.db
      .updateTable('repositories')
      .set({ dropped_at: this.#now().toISOString(), drop_reason: reason })
      .where('id', '=', repositoryId)
      .where('source', '=', 'discovered')
      .execute();
  }

  async members(): Promise<FleetEntry[]> {
    const rows = await this.db
      .selectFrom('repositories')
      .select(COLUMNS)
      .where((eb) =>
        eb.or([
          eb.and([eb('source', '=', 'configured'), eb('validated_at', 'is not', null)]),
          eb.and([eb('source', '=', 'discovered'), eb('dropped_at', 'is', null)]),
        ]),
      )
      .orderBy('id')
      .execute();
    return rows.map(entryOf);
  }

  async watermarks(): Promise<Map<number, string>> {
    // One grouped scan of issues_repository_updated (009), not one query per member.
    const rows = await this.db
      .selectFrom('issues')
      .select((eb) => ['repository_id', eb.fn.max('updated_at').as('latest')])
      .groupBy('repository_id')
      .execute();
    return new Map(rows.map((row) => [row.repository_id, row.latest]));
  }

  async markJoined(repositoryIds: readonly number[]): Promise<void> {
    // Whole seconds, as GitHub writes updated_at (like SqlIssueSyncStore.markFirstSync);
    // only a NULL is filled in: the first sync time never moves.
    const at = new Date(Math.floor(this.#now().getTime() / 1000) * 1000).toISOString();
    await this.db.transaction().execute(async (trx) => {
      // In id order: daemons marking the same members (a stream here, discovery there) lock them in one order.
      for (const ids of chunks([...new Set(repositoryIds)].sort((a, b) => a - b))) {
        await trx.updateTable('repositories').set({ first_synced_at: at }).where('id', 'in', ids).where('first_synced_at', 'is', null).execute();
      }
    });
  }

  async recordPaths(paths: ReadonlyMap<number, DetectionPath>): Promise<void> {
    const byPath = new Map<DetectionPath, number[]>();
    for (const [id, path] of paths) byPath.set(path, [...(byPath.get(path) ?? []), id]);
    await this.db.transaction().execute(async (trx) => {
      // Paths in one order and ids ascending: daemons recording the same projection lock rows in one order.
      for (const path of DETECTION_PATHS) {
        const ids = (byPath.get(path) ?? []).sort((a, b) => a - b);
        for (const chunk of chunks(ids)) {
          // Rows already on the path are not written: a steady fleet records nothing.
          await trx
            .updateTable('repositories')
            .set({ detection_path: path })
            .where('id', 'in', chunk)
            .where((eb) => eb.or([eb('detection_path', 'is', null), eb('detection_path', '!=', path)]))
            .execute();
        }
      }
    });
  }
}

const COLUMNS = ['id', 'owner', 'name', 'github_id', 'source', 'organization', 'dropped_at', 'validated_at', 'first_synced_at'] as const;

interface Rename {
  readonly id: number;
  readonly owner: string;
  readonly name: string;
  readonly githubId: number;
  readonly organization: string;
}

interface SyncPlan {
  /** Discovered rows whose name, GitHub id or organisation changed. */
  readonly renamed: Rename[];
  /** Dropped discovered rows listed again (with their listed name). */
  readonly returning: Row[];
  inserts: DiscoveredRepository[];
  /** Discovered members of the organisation no longer listed. */
  readonly dropped: Row[];
  /** Members listed that already were (configured or discovered), with their listed name. */
  readonly members: FleetEntry[];
}

/**
 * Matches the listing to the rows as SqlRepositoryStore.record does: by GitHub
 * id, then by owner/name case-insensitively for a row no listed id claims.
 * Configured rows are left as they are: their spelling is the configuration's.
 */
function planSync(org: string, rows: readonly Row[], listed: readonly DiscoveredRepository[]): SyncPlan {
  const listedIds = new Set(listed.map((r) => r.githubId));
  const byGithubId = new Map<number, Row>();
  const byName = new Map<string, Row>();
  for (const row of rows) {
    if (row.github_id !== null && !byGithubId.has(Number(row.github_id))) byGithubId.set(Number(row.github_id), row);
    byName.set(nameKey(row), row);
  }
  const claimed = new Set<number>();
  const plan: SyncPlan = { renamed: [], returning: [], inserts: [], dropped: [], members: [] };
  for (const repo of listed) {
    let row = byGithubId.get(repo.githubId);
    if (!row) {
      const named = byName.get(nameKey(repo));
      if (named && !claimed.has(named.id) && (named.github_id === null || !listedIds.has(Number(named.github_id)))) row = named;
    }
    if (!row || claimed.has(row.id)) {
      if (!row) plan.inserts.push(repo);
      continue;
    }
    claimed.add(row.id);
    if (row.source === 'configured') {
      if (row.validated_at !== null) plan.members.push(entryOf(row));
      continue;
    }
    const current: Row = { ...row, owner: repo.owner, name: repo.name, github_id: repo.githubId, organization: org };
    if (row.owner !== repo.owner || row.name !== repo.name || Number(row.github_id) !== repo.githubId || row.organization !== org) {
      plan.renamed.push({ id: row.id, owner: repo.owner, name: repo.name, githubId: repo.githubId, organization: org });
    }
    if (row.dropped_at !== null) plan.returning.push(current);
    else plan.members.push(entryOf(current));
  }
  // The unique owner/name is exact: a new repository under the name a configured row
  // still holds (the configured one was renamed on GitHub, the old name reused) waits
  // until the configuration follows; inserting it would fail the whole listing.
  const renamedIds = new Set(plan.renamed.map((r) => r.id));
  const occupied = new Set(rows.filter((row) => !renamedIds.has(row.id)).map((row) => `${row.owner}/${row.name}`));
  for (const r of plan.renamed) occupied.add(`${r.owner}/${r.name}`);
  plan.inserts = plan.inserts.filter((repo) => !occupied.has(`${repo.owner}/${repo.name}`));
  const lowerOrg = org.toLowerCase();
  for (const row of rows) {
    if (row.source !== 'discovered' || row.dropped_at !== null || claimed.has(row.id)) continue;
    if (row.organization?.toLowerCase() === lowerOrg) plan.dropped.push(row);
  }
  return plan;
}

/**
 * Daemons sharing PostgreSQL list their organisations at the same time (each
 * one's setup does): two syncs planned from the same rows would insert the
 * same repositories, and one would fail on the unique owner/name. One sync at
 * a time, and no other write to repositories while it runs, so that the plan
 * is still true when it is written. Reads, and the foreign keys of issue and
 * job writes, are not held up (SHARE ROW EXCLUSIVE conflicts with writes to
 * the table, not with reads or row locks). SQLite has one writer at a time.
 */
async function lockRepositories(trx: Transaction<Schema>): Promise<void> {
  if (isPostgres(trx)) await sql`LOCK TABLE repositories IN SHARE ROW EXCLUSIVE MODE`.execute(trx);
}

/**
 * Two steps, so that two repositories swapping names never meet the unique
 * owner/name. The interim name has a `#`, which GitHub's names never do (and
 * no NUL byte, which PostgreSQL's text refuses).
 */
async function renameAll(trx: Transaction<Schema>, renamed: readonly Rename[]): Promise<void> {
  for (const r of renamed) {
    await trx.updateTable('repositories').set({ name: `${r.name}#renaming-${r.id}` }).where('id', '=', r.id).execute();
  }
  for (const r of renamed) {
    await trx
      .updateTable('repositories')
      .set({ owner: r.owner, name: r.name, github_id: r.githubId, organization: r.organization })
      .where('id', '=', r.id)
      .execute();
  }
}

async function insertAll(trx: Transaction<Schema>, org: string, repos: readonly DiscoveredRepository[], now: string): Promise<FleetEntry[]> {
  const entries: FleetEntry[] = [];
  for (const chunk of chunks(repos)) {
    const rows = await trx
      .insertInto('repositories')
      .values(
        chunk.map((r) => ({
          owner: r.owner,
          name: r.name,
          github_id: r.githubId,
          source: 'discovered' as const,
          organization: org,
          // Listed by GitHub to this token: as good as setup's validation.
          validated_at: now,
          created_at: now,
        })),
      )
      .returning(COLUMNS)
      .execute();
    entries.push(...rows.map(entryOf));
  }
  return entries;
}

async function updateIn(
  trx: Transaction<Schema>,
  ids: readonly number[],
  values: { dropped_at: string | null; drop_reason: string | null; validated_at?: string },
): Promise<void> {
  for (const chunk of chunks(ids)) await trx.updateTable('repositories').set(values).where('id', 'in', chunk).execute();
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += CHUNK) out.push(items.slice(start, start + CHUNK));
  return out;
}

/** GitHub's owner and repository names are case-insensitive. */
function nameKey(repo: { readonly owner: string; readonly name: string }): string {
  return `${repo.owner}/${repo.name}`.toLowerCase();
}

function entryOf(row: Row): FleetEntry {
  return {
    repositoryId: row.id,
    owner: row.owner,
    name: row.name,
    githubId: row.github_id === null ? null : Number(row.github_id),
    source: row.source,
    organization: row.organization,
    firstSyncedAt: row.first_synced_at,
  };
}
