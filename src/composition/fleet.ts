/**
 * The fleet, wired: the in-memory Fleet kept in step with the walk runner
 * (members added, removed, moved between paths, nudged), the detection
 * workers it needs (discovery, one stream per organisation, the sweeper), and
 * the capacity projection that stretches the intervals, made again every
 * minute from the response times the governor measured and shown in `status`,
 * the dashboard and the metrics.
 *
 * Work is shared by leases (decision 010): the walk runner walks a member only
 * while this daemon holds its `repo:<id>` unit, the sweeper sweeps only those,
 * and discovery and each organisation's stream run on the daemon holding their
 * unit. Every daemon keeps the whole membership in memory (a stream stores the
 * issues of every member of its organisation), reloaded when another changed it
 * (src/composition/fleet-units.ts).
 */
import type { Config } from '../config/schema.js';
import { fullName, type Partition } from '../domain/entities.js';
import { projectCapacity, type Capacity } from '../domain/fleet/capacity.js';
import { DISCOVERY_UNIT, repositoryOfUnit, repositoryUnit } from '../domain/fleet/lease-share.js';
import { Fleet, type FleetMember } from '../domain/fleet/fleet.js';
import type { PathPolicy } from '../domain/fleet/paths.js';
import type { FleetIntervals } from '../domain/fleet/sweep-schedule.js';
import type { DetectionPath, FleetEntry } from '../domain/fleet/types.js';
import type { BacklogPolicy } from '../domain/eligibility.js';
import { describeError } from '../domain/failure.js';
import type { Log } from '../domain/ports.js';
import { firstDiscovery, type DiscoveryDeps, type GlobalSetupStep } from '../domain/tasks/global/discovery.js';
import type { RepositorySetupSpec } from '../domain/spec.js';
import { STREAM_LAG_MS, type ScopeStreamDeps } from '../domain/tasks/global/scope-stream.js';
import { COMMENT_POLLER } from '../domain/tasks/repository/comment-poller.js';
import type { GitHubClient } from '../infra/github/index.js';
import { FLEET_CAPACITY_STATE_KEY, type SqlFleetStore, type SqlScopeSyncStore, type SqlStateStore, type StoredCapacity } from '../infra/store/index.js';
import type { WorkJob } from '../schedule/planner.js';
import type { TaskDependencies } from '../schedule/registry.js';
import type { WalkRunner } from '../schedule/walk-runner.js';
import { FleetUnits } from './fleet-units.js';
import type { WorkLeases } from './work-leases.js';

// The key and shape live with the status reader that reads them back.
export { FLEET_CAPACITY_STATE_KEY, type StoredCapacity };
/** The backlog settings the discovered repositories were last reconciled with (SqlStateStore key). */
const BACKLOG_SETTINGS_STATE_KEY = 'fleet.backlogSettings';
/** How often the sweeper looks for members due. */
const SWEEP_LOOK_MS = 5_000;
/** How often the projection is made again. */
const REPROJECT_MS = 60_000;

export interface FleetWiringDeps {
  readonly config: Config;
  readonly github: GitHubClient;
  readonly store: SqlFleetStore;
  readonly scopes: SqlScopeSyncStore;
  readonly state: SqlStateStore;
  readonly log: Log;
  /** This daemon's work units: which members it walks and sweeps, whether it runs discovery and which streams. */
  readonly leases: WorkLeases;
  /** Brings the unanswered issues of discovered members in line with github.issues.backlog and ai.dryRun at start. */
  readonly backlogReconciler?: RepositorySetupSpec;
  /** Rung after a stream page queued jobs (wakes the dispatcher). */
  readonly onEnqueued: () => void;
  /** Told each new projection (metrics). */
  readonly onProjection?: (capacity: Capacity) => void;
  /** Told how each stream pass ended (metrics), as the polls of `org/*`: a pass covers the organisation. */
  readonly onPoll?: (repository: string, outcome: 'changed' | 'not_modified' | 'error') => void;
}

export class FleetWiring {
  readonly fleet: Fleet;
  readonly #deps: FleetWiringDeps;
  readonly #organizations: ReadonlySet<string>;
  #capacity: Capacity;
  #walkCapacity: number;
  #walks: { readonly runner: WalkRunner; readonly jobsFor: (partition: Partition) => WorkJob[] } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #pathsSaving: Promise<void> = Promise.resolve();
  /** A save of the paths is queued and has not read them yet. */
  #pathsPending = false;
  /** Organisations (lower case) whose stream failed for good: their members are swept. */
  readonly #unavailableStreams = new Set<string>();
  readonly #units: FleetUnits;

  constructor(deps: FleetWiringDeps) {
    this.#deps = deps;
    this.#organizations = new Set(deps.config.github.organizations.map((org) => org.name.toLowerCase()));
    this.fleet = new Fleet({ intervals: () => this.intervals(), policy: () => this.#policy(), sweeps: (id) => this.#holdsMember(id) });
    this.#capacity = this.#project(this.fleet.counts());
    this.#walkCapacity = this.#capacity.walkFits;
    this.#units = new FleetUnits({
      leases: deps.leases,
      fleet: this.fleet,
      state: deps.state,
      scopes: deps.scopes,
      log: deps.log,
      members: () => this.#members(),
      streamed: () => (this.#streaming() ? deps.config.github.organizations.map((org) => org.name) : []),
      discovers: deps.config.github.organizations.length > 0,
    });
    deps.leases.subscribe({
      acquired: (units) => this.#acquired(units),
      lost: (units) => this.#lost(units),
      // Before start the members are not loaded: nothing to follow yet.
      ticked: () => (this.#walks ? this.#units.ticked() : Promise.resolve()),
    });
  }

  /** The units every daemon of this configuration shares besides the members: discovery, one per organisation streamed. */
  singletonUnits(): string[] {
    return this.#units.singletons();
  }

  /**
   * The first discovery, a setup step; none without organisations. Only the
   * daemon holding `discovery` lists (two listing at once would insert the same
   * repositories twice); the others load the members it recorded.
   */
  setupSteps(): GlobalSetupStep[] {
    if (this.#deps.config.github.organizations.length === 0) return [];
    const step = firstDiscovery(this.#discoveryDeps());
    return [
      {
        resource: step.resource,
        run: async (signal) => {
          if (!this.#deps.leases.holds(DISCOVERY_UNIT)) return;
          await step.run(signal);
          // Joined before anything listened: the others (started without these members) must reload them.
          this.#units.changed();
        },
      },
    ];
  }

  /** What the registry needs to build the fleet's detectors (src/schedule/registry.ts). */
  detectors(backlog: BacklogPolicy): TaskDependencies['fleet'] {
    const { config, github, scopes, store, log, onPoll } = this.#deps;
    const organizations = config.github.organizations.map((org) => org.name);
    const stream: ScopeStreamDeps = {
      github,
      store: scopes,
      fleetStore: store,
      fleet: this.fleet,
      interval: config.github.issues.parseInterval,
      requiredLabel: config.github.issues.requiredLabel,
      backlog,
      log,
      onEnqueued: this.#deps.onEnqueued,
      ...(onPoll ? { onPoll: (organization: string, outcome: 'changed' | 'not_modified' | 'error') => onPoll(`${organization.toLowerCase()}/*`, outcome) } : {}),
      onAvailability: (organization, available, cause) => this.#streamAvailable(organization, available, cause),
      // Streamed members walk only when nudged: comments are read when issues changed since joining (not for history).
      onRepositoryChanged: (repositoryId, newest) => {
        const joined = this.fleet.byRepositoryId(repositoryId)?.firstSyncedAt;
        if (joined != null && Date.parse(newest) >= Date.parse(joined)) this.#walks?.runner.nudge(repositoryId, COMMENT_POLLER);
      },
      // Two reads of the stream give GitHub's listing time to show a write; never more than the default.
      lagMs: Math.min(STREAM_LAG_MS, 2 * config.github.issues.parseInterval),
    };
    return {
      ...(organizations.length > 0 ? { discovery: this.#discoveryDeps() } : {}),
      ...(this.#streaming() ? { streams: { deps: stream, organizations } } : {}),
      sweeper: { github, store, fleet: this.fleet, interval: SWEEP_LOOK_MS, batchSize: config.github.fleet.sweepBatch, log },
      holds: (unit) => this.#deps.leases.holds(unit),
    };
  }

  /** The intervals the projection allows now. */
  intervals(): FleetIntervals {
    const { paths } = this.#capacity;
    return { walkMs: paths.walk.intervalMs, sweepMs: paths.sweep.intervalMs, reconcileMs: this.#capacity.reconcileIntervalMs };
  }

  /**
   * After setup: loads the members (configured repositories still in the
   * configuration, discovered ones), chooses their paths, and hands each to
   * the walk runner; from then on the runner follows the fleet.
   */
  async start(runner: WalkRunner, jobsFor: (partition: Partition) => WorkJob[], signal: AbortSignal): Promise<void> {
    this.#walks = { runner, jobsFor };
    const { store } = this.#deps;
    const configured = this.#configured();
    // Read first: a change another daemon makes while the members load is reloaded at the next heartbeat.
    await this.#units.loading();
    const stored = await store.members();
    const entries = stored.filter((entry) => this.#wanted(entry, configured));
    // Discovered in an organisation no longer configured: they leave, so status stops counting them.
    for (const entry of stored) {
      if (entry.source !== 'discovered' || this.#wanted(entry, configured)) continue;
      await store.drop(entry.repositoryId, `its organisation ${entry.organization ?? '?'} is no longer in github.organizations`);
    }
    // How many can be walked is settled before the paths are chosen (it does not depend on the walks).
    this.#walkCapacity = this.#project(this.fleet.counts()).walkFits;
    this.fleet.subscribe({
      added: (member) => {
        this.#units.joined(member.partition.repositoryId);
        this.#upsert(member);
      },
      removed: (member) => {
        this.#units.left(member.partition.repositoryId);
        runner.remove(member.partition.repositoryId);
      },
      pathChanged: (member) => {
        this.#upsert(member);
        this.#savePaths();
      },
      renamed: (member) => {
        this.#units.changed();
        this.#upsert(member);
      },
      nudged: (member) => runner.nudge(member.partition.repositoryId),
    });
    this.fleet.load(entries, await store.watermarks());
    // Every member has its unit (the first discovery joined some before anything listened), and this
    // daemon takes its share now: the first walks (and `run --once`) need the units.
    await this.#units.sync();
    await this.#deps.leases.tick();
    for (const member of this.fleet.members()) this.#upsert(member);
    const unjoined = this.fleet.unjoined();
    if (unjoined.length > 0) {
      const at = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString();
      await store.markJoined(unjoined);
      this.fleet.joined(unjoined, at);
    }
    await this.#reconcileDiscovered(signal);
    this.reproject();
    this.#savePaths();
    this.#timer = setInterval(() => this.reproject(), REPROJECT_MS);
    this.#timer.unref();
  }

  /**
   * The backlog reconciler runs for configured repositories in setup; the
   * discovered ones get the same here, so a wider github.issues.backlog or a
   * dry run turned off applies to them too. A failure is logged, not fatal:
   * the repository is watched all the same.
   */
  async #reconcileDiscovered(signal: AbortSignal): Promise<void> {
    const reconciler = this.#deps.backlogReconciler;
    if (!reconciler) return;
    // Settings unchanged since the last reconciliation leave nothing to do: ten thousand
    // repositories cost no query at a restart, only when the keys change.
    const { issues } = this.#deps.config.github;
    const settings = { backlog: issues.backlog, requiredLabel: issues.requiredLabel ?? null, dryRun: this.#deps.config.ai.dryRun };
    const last = await this.#deps.state.get<typeof settings>(BACKLOG_SETTINGS_STATE_KEY);
    if (last !== undefined && JSON.stringify(last.value) === JSON.stringify(settings)) return;
    for (const member of [...this.fleet.members()]) {
      // A member with no issue stored has nothing unanswered.
      if (member.source !== 'discovered' || member.watermark === null || signal.aborted) continue;
      await reconciler.run(signal, member.partition).catch((error: unknown) => {
        this.#deps.log.warn({ repository: fullName(member.partition), error: describeError(error) }, `${describeError(error)}; the repository is watched all the same`);
      });
    }
    if (!signal.aborted) await this.#deps.state.put(BACKLOG_SETTINGS_STATE_KEY, settings);
  }

  /** Projects the capacity again from the members and the measured response times; walk intervals follow. */
  reproject(): Capacity {
    const before = this.intervals().walkMs;
    this.#capacity = this.#project(this.fleet.counts());
    if (this.intervals().walkMs !== before) {
      for (const member of this.fleet.members()) if (member.path === 'walk') this.#upsert(member);
    }
    this.#deps.onProjection?.(this.#capacity);
    const reasons: Partial<Record<DetectionPath, string>> = {};
    for (const member of this.fleet.members()) reasons[member.path] ??= member.pathReason;
    const stored: StoredCapacity = { ...this.#capacity, projectedAt: new Date().toISOString(), reasons };
    this.#deps.state.put(FLEET_CAPACITY_STATE_KEY, stored).catch((error: unknown) => {
      this.#deps.log.warn({ error: String(error) }, 'could not record the capacity projection for status');
    });
    return this.#capacity;
  }

  get capacity(): Capacity {
    return this.#capacity;
  }

  /** Stops the projection's timer and waits for the paths and units being recorded. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#pathsSaving;
    await this.#units.flush();
  }

  /** Walked (and swept) here only while this daemon holds the member's unit. */
  #upsert(member: FleetMember): void {
    const walks = this.#walks;
    if (!walks || !this.#holdsMember(member.partition.repositoryId)) return;
    const interval = this.fleet.walkIntervalOf(member);
    for (const job of walks.jobsFor(member.partition)) walks.runner.upsert(member.partition.repositoryId, job, interval);
  }

  #holdsMember(repositoryId: number): boolean {
    return this.#deps.leases.holds(repositoryUnit(repositoryId));
  }

  #acquired(units: readonly string[]): void {
    for (const unit of units) {
      const id = repositoryOfUnit(unit);
      const member = id === undefined ? undefined : this.fleet.byRepositoryId(id);
      // A member not loaded here yet is handed over when the reload adds it.
      if (member) this.#upsert(member);
    }
  }

  #lost(units: readonly string[]): void {
    for (const unit of units) {
      const id = repositoryOfUnit(unit);
      if (id !== undefined) this.#walks?.runner.remove(id);
    }
  }

  /** The members the configuration wants, as the store holds them now (another daemon changed them). */
  async #members(): Promise<{ entries: FleetEntry[]; watermarks: Map<number, string> }> {
    const configured = this.#configured();
    const entries = (await this.#deps.store.members()).filter((entry) => this.#wanted(entry, configured));
    return { entries, watermarks: await this.#deps.store.watermarks() };
  }

  #configured(): Set<string> {
    return new Set(this.#deps.config.github.repositories.map((repo) => fullName(repo).toLowerCase()));
  }

  /** A configured row still configured, or a discovered one of an organisation still listed. */
  #wanted(entry: FleetEntry, configured: ReadonlySet<string>): boolean {
    if (entry.source === 'configured') return configured.has(fullName(entry).toLowerCase());
    return entry.organization !== null && this.#organizations.has(entry.organization.toLowerCase());
  }

  /** Streams run unless detection is forced to walk or sweep. */
  #streaming(): boolean {
    const mode = this.#deps.config.github.fleet.detection;
    return this.#deps.config.github.organizations.length > 0 && mode !== 'walk' && mode !== 'sweep';
  }

  /**
   * An organisation whose stream the token cannot read (an installation token,
   * or no access to its issues) has its members swept instead until a pass
   * reads it again; the stream worker keeps trying, slowly.
   */
  #streamAvailable(organization: string, available: boolean, cause: unknown): void {
    const key = organization.toLowerCase();
    if (available === !this.#unavailableStreams.has(key)) return;
    if (available) this.#unavailableStreams.delete(key);
    else this.#unavailableStreams.add(key);
    const fields = { organization: key, ...(cause === undefined ? {} : { error: describeError(cause) }) };
    if (available) this.#deps.log.info(fields, `the issue stream of ${key} works again: its repositories are streamed`);
    else this.#deps.log.warn(fields, `the issue stream of ${key} is not available to this token (${describeError(cause)}): its repositories are swept instead`);
    this.fleet.repath();
    this.reproject();
  }

  #policy(): PathPolicy {
    const streamed = new Set([...this.#organizations].filter((org) => !this.#unavailableStreams.has(org)));
    return {
      mode: this.#deps.config.github.fleet.detection,
      streamedOrganizations: this.#streaming() ? streamed : new Set(),
      walkCapacity: this.#walkCapacity,
    };
  }

  #project(members: Readonly<Record<DetectionPath, number>>): Capacity {
    const { config, github } = this.#deps;
    const measured = github.budget().averageResponseMs;
    const discovered = [...this.fleet.members()].filter((member) => member.source === 'discovered').length;
    const organizations = config.github.organizations.length;
    return projectCapacity({
      members,
      streams: this.#streaming() ? organizations : 0,
      parseIntervalMs: config.github.issues.parseInterval,
      reconcileIntervalMs: config.github.fleet.reconcileInterval,
      sweepBatch: config.github.fleet.sweepBatch,
      discoveryPages: organizations + Math.floor(discovered / 100),
      discoveryIntervalMs: config.github.discoveryInterval,
      requestsPerWalk: config.ai.mentionFrom.length > 0 ? 2 : 1, // the comment listing too, unless follow-ups are off
      budget: {
        restPointsPerMinute: config.github.rateLimit.pointsPerMinute,
        graphqlPointsPerMinute: config.github.rateLimit.graphqlPointsPerMinute,
        cpuMsPerMinute: config.github.rateLimit.cpuPerMinute,
        minIntervalMs: config.github.rateLimit.minInterval,
        graphqlPointsPerHour: 5_000,
      },
      measured: { ...(measured.rest === null ? {} : { restMs: measured.rest }), ...(measured.graphql === null ? {} : { graphqlMs: measured.graphql }) },
    });
  }

  #discoveryDeps(): DiscoveryDeps {
    const { config, github, store, log } = this.#deps;
    return { github, store, fleet: this.fleet, organizations: config.github.organizations, interval: config.github.discoveryInterval, log };
  }

  /** Records every member's path for `status`, one save at a time. */
  #savePaths(): void {
    // A repath moves many members at once, each telling its own change: one save covers them all.
    if (this.#pathsPending) return;
    this.#pathsPending = true;
    this.#pathsSaving = this.#pathsSaving
      .then(() => {
        this.#pathsPending = false;
        const paths = new Map<number, DetectionPath>();
        for (const member of this.fleet.members()) paths.set(member.partition.repositoryId, member.path);
        return this.#deps.store.recordPaths(paths);
      })
      .catch((error: unknown) => this.#deps.log.warn({ error: String(error) }, 'could not record the detection paths for status'));
  }
}
