/**
 * Worker, global (and the first pass in setup): list every configured
 * organisation's repositories, keep those the entry asks for, record the
 * membership and bring the in-memory fleet in line. One organisation failing
 * keeps the members it had and does not stop the others; the pass still fails
 * at the end, so the scheduler's backoff and `status` see it.
 */
import { fullName } from '../../entities.js';
import { DiscoveryError } from '../../fleet/errors.js';
import type { Fleet } from '../../fleet/fleet.js';
import { filterListing } from '../../fleet/organization-filter.js';
import type { FleetStore, OrganizationLister } from '../../fleet/ports.js';
import type { FleetEntry, OrganizationSpec } from '../../fleet/types.js';
import { describeError, isAbort } from '../../failure.js';
import type { Log } from '../../ports.js';
import type { GlobalWorkerSpec } from '../../spec.js';

export interface DiscoveryDeps {
  readonly github: OrganizationLister;
  readonly store: FleetStore;
  readonly fleet: Fleet;
  /** github.organizations, normalised. */
  readonly organizations: readonly OrganizationSpec[];
  /** github.discoveryInterval, in milliseconds. */
  readonly interval: number;
  readonly log: Log;
  /** Default: the system clock. */
  readonly now?: () => Date;
}

/** A one-shot step for the whole daemon, run before any worker starts. */
export interface GlobalSetupStep {
  readonly resource: string;
  run(signal: AbortSignal): Promise<void>;
}

/** Names listed in full up to this many per line; beyond, `and N more`. */
const NAMES_PER_LINE = 20;

export function discovery(deps: DiscoveryDeps): GlobalWorkerSpec {
  return {
    resource: 'discovery',
    interval: deps.interval,
    work: (signal) => discoverAll(deps, signal),
  };
}

/**
 * The first discovery, in setup: every organisation that exists must list. An
 * organisation that does not exist or that the token cannot see fails setup
 * naming it (permanent, a configuration error); network and server trouble is
 * retried within the setup budget like any preflight.
 */
export function firstDiscovery(deps: DiscoveryDeps): GlobalSetupStep {
  return { resource: 'discovery', run: (signal) => discoverAll(deps, signal) };
}

async function discoverAll(deps: DiscoveryDeps, signal: AbortSignal): Promise<void> {
  const failures: Array<{ organization: string; cause: unknown }> = [];
  for (const organization of deps.organizations) {
    signal.throwIfAborted();
    try {
      await discoverOne(deps, organization, signal);
    } catch (cause) {
      if (isAbort(cause, signal)) throw cause;
      failures.push({ organization: organization.name, cause });
      deps.log.error(
        { organization: organization.name, error: describeError(cause) },
        `cannot list the repositories of organisation ${organization.name}; its members stay as they were: ${describeError(cause)}`,
      );
    }
  }
  if (failures.length > 0) throw new DiscoveryError(failures);
}

async function discoverOne(deps: DiscoveryDeps, organization: OrganizationSpec, signal: AbortSignal): Promise<void> {
  const org = organization.name;
  const listing = await deps.github.listOrganizationRepositories(org, signal);
  const filtered = filterListing(organization, listing.repositories);
  const result = await deps.store.syncOrganization(org, filtered.kept);
  // Their first sync time is the backlog cutoff: issues from before they joined are not answered (github.issues.backlog).
  const joining = unique([...result.added, ...result.members].filter((entry) => entry.firstSyncedAt === null).map((entry) => entry.repositoryId));
  if (joining.length > 0) await deps.store.markJoined(joining);
  const joinedAt = (deps.now?.() ?? new Date()).toISOString();
  deps.fleet.join(result);
  deps.fleet.joined(joining, joinedAt);

  logMembers(deps.log, org, result.added, 'joined the fleet');
  logMembers(deps.log, org, result.dropped, 'left the fleet (no longer listed, archived or filtered out)');
  const changed = result.added.length + result.dropped.length > 0;
  const fields = {
    organization: org,
    listed: listing.repositories.length,
    members: filtered.kept.length,
    archived: filtered.archived,
    filteredOut: filtered.filtered,
    malformed: listing.skipped,
    added: result.added.length,
    dropped: result.dropped.length,
  };
  const message =
    `organisation ${org}: ${filtered.kept.length} of ${listing.repositories.length} repositories watched ` +
    `(${filtered.archived} archived, ${filtered.filtered} filtered out${listing.skipped > 0 ? `, ${listing.skipped} malformed skipped` : ''}); ` +
    `${result.added.length} joined, ${result.dropped.length} left`;
  if (changed || listing.skipped > 0) deps.log.info(fields, message);
  else deps.log.debug(fields, message);
}

/** One line per repository when few; one line naming the first twenty and counting the rest when many. */
function logMembers(log: Log, org: string, entries: readonly FleetEntry[], what: string): void {
  if (entries.length === 0) return;
  if (entries.length <= NAMES_PER_LINE) {
    for (const entry of entries) log.info({ organization: org, repository: fullName(entry) }, `${fullName(entry)} ${what}`);
    return;
  }
  const names = entries.slice(0, NAMES_PER_LINE).map((entry) => fullName(entry));
  const rest = entries.length - names.length;
  log.info({ organization: org, count: entries.length }, `${entries.length} repositories of ${org} ${what}: ${names.join(', ')} and ${rest} more`);
}

function unique(ids: readonly number[]): number[] {
  return [...new Set(ids)];
}
