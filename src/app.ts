/**
 * The composition root: builds every object once, by hand, from the validated
 * configuration. The only module that knows everything; the small adapters it
 * needs (hook fan-out, executor settings, the GitHub budget shared across
 * daemons and hold logging, the instance heartbeat, the rate-limit recorder)
 * are in src/composition/.
 */
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import { testRetryScale } from './config/env.js';
import { processEnv } from './config/load.js';
import { fullName, type Partition, type RepositoryRef } from './domain/entities.js';
import type { DispatchObserver, Executor } from './domain/ports.js';
import { Doorbell } from './domain/doorbell.js';
import { DEFAULT_PROMPT } from './domain/prompt.js';
import { DEFAULT_EXECUTOR, Router } from './domain/rules.js';
import type { DispatcherPause } from './domain/tasks/global/dispatch-failure.js';
import type { Capacity } from './domain/fleet/capacity.js';
import { GitHubClient, type GitHubTelemetry } from './infra/github/index.js';
import {
  currentInstance,
  isPostgres,
  openDatabase,
  SchemaMigrator,
  SqlBacklogStore,
  SqlCommentSyncStore,
  SqlIssueCatalog,
  SqlInstanceRegistry,
  SqlIssueSyncStore,
  SqlJobQueue,
  SqlPauseStore,
  SqlFleetStore,
  SqlRepositoryStore,
  SqlScopeSyncStore,
  SqlStateStore,
  SqlCredentialBudget,
  SqlWorkLeaseStore,
  type Database,
} from './infra/store/index.js';
import { withLogContext } from './infra/telemetry/logger.js';
import { backlogReconciler } from './domain/tasks/setup/backlog-reconciler.js';
import { globalSetupJob, plan } from './schedule/planner.js';
import { registry } from './schedule/registry.js';
import { scaledBaseline } from './schedule/retry.js';
import { Scheduler, SetupFailedError, type SchedulerObserver, type WorkSummary } from './schedule/scheduler.js';
import { Observability } from './observability.js';
import { USER_AGENT, VERSION } from './version.js';
import { knownSecrets } from './composition/executor-settings.js';
import { buildExecutors } from './composition/executors.js';
import { InstanceHeartbeat, INSTANCE_STALE_MS } from './composition/instance-heartbeat.js';
import { FleetWiring } from './composition/fleet.js';
import { fanOut, mergeHooks } from './composition/observers.js';
import { RateLimitRecorder } from './composition/rate-limit-recorder.js';
import { logLongHold } from './composition/throttle-holds.js';
import { credentialOf, SharedBudget } from './composition/shared-budget.js';
import { WorkLeases } from './composition/work-leases.js';

/** How often the dispatcher looks at the queue. */
const DISPATCH_INTERVAL_MS = 5_000;

export interface AppHooks {
  /** Replaces the configured executor (the demo's built-in one). */
  readonly executor?: Executor;
  readonly githubTelemetry?: GitHubTelemetry;
  readonly schedulerObserver?: SchedulerObserver;
  readonly dispatchObserver?: DispatchObserver;
  /** Each poll: a repository's walk (`owner/name`), or an organisation's issue stream (`org/*`). */
  readonly onPoll?: (repository: string, outcome: 'changed' | 'not_modified' | 'error') => void;
  /** Each pass of a repository's comment poller (`owner/name`); `held` when a mention on an issue not stored yet held it back. */
  readonly onCommentPoll?: (repository: string, outcome: 'changed' | 'not_modified' | 'held' | 'error') => void;
  /** Each new capacity projection of the fleet (metrics). */
  readonly onFleetProjection?: (capacity: Capacity) => void;
  /** The dispatcher paused (the daemon's failure, not a job's), or `null`: it resumed. */
  readonly onDispatcherPause?: (pause: DispatcherPause | null) => void;
  /** Minimum gap between two GitHub writes (comments); the demo shortens it against its local simulator. Default: the throttle's 1 s. */
  readonly writeMinIntervalMs?: number;
  /** Comments per minute and per hour; tests shrink them. Default: the throttle's 60 and 450. */
  readonly writeBudget?: { readonly perMinute?: number; readonly perHour?: number };
}

export type AppState = 'starting' | 'setup' | 'working' | 'stopped';

/** What `run` did, for the exit code. */
export interface RunSummary extends WorkSummary {
  /** Queue jobs that went dead during this run: answers that failed for good. */
  readonly deadJobs: number;
}

/** What the dispatcher reported that health and the exit code need. */
interface DispatchTally {
  pause: DispatcherPause | null;
  deadJobs: number;
}

export class App {
  #state: AppState = 'starting';
  #closing: Promise<void> | undefined;

  private constructor(
    readonly config: Config,
    readonly database: Database,
    readonly queue: SqlJobQueue,
    private readonly log: Logger,
    private readonly scheduler: Scheduler,
    private readonly entries: ReturnType<typeof registry>,
    private readonly repositories: SqlRepositoryStore,
    private readonly rateLimitRecorder: RateLimitRecorder,
    private readonly sharedBudget: SharedBudget,
    private readonly observability: Observability | undefined,
    private readonly instance: InstanceHeartbeat,
    private readonly fleet: FleetWiring,
    private readonly leases: WorkLeases,
    private readonly tally: DispatchTally,
    /** Aborts (its reason an InstanceLostError) when another daemon took this one's registration over: stop at once. */
    readonly registrationLost: AbortSignal,
  ) {}

  static async create(config: Config, log: Logger, given: AppHooks = {}): Promise<App> {
    const database = await openDatabase(config.database, {
      // The pool replaces the connection; the next query says whether the server is back.
      onIdleError: (error) => log.warn({ error: error.message }, 'a database connection failed while idle; reconnecting on next use'),
    });
    const identity = currentInstance();
    // On PostgreSQL any number of daemons share the database (and the fleet, by work leases); a SQLite file has one.
    const instances = new SqlInstanceRegistry(database.db, identity, { version: VERSION, staleAfterMs: INSTANCE_STALE_MS, shared: isPostgres(database.db) });
    let observability: Observability | undefined;
    let registered = false;
    try {
      await new SchemaMigrator(database.db, database.path).up();
      // A second daemon on the same file refuses here, naming the first.
      await instances.register(database.path);
      registered = true;
      if (config.http.listen) observability = await Observability.create(config.http.listen, database.db, config.github.repositories, log);
    } catch (error) {
      if (registered) await instances.unregister().catch(() => undefined);
      await database.close();
      throw error;
    }
    const lost = new AbortController();
    const instance = new InstanceHeartbeat(instances, log, database.path, (error) => lost.abort(error));
    const hooks = observability ? mergeHooks(given, observability.hooks()) : given;
    const db = database.db;
    const repositories = new SqlRepositoryStore(db);
    const queue = new SqlJobQueue(db, { retryDelayMs: config.ai.retryDelay, owner: identity });
    const state = new SqlStateStore(db);
    const rateLimitRecorder = new RateLimitRecorder(state, log);
    // One budget per token across every daemon on this database (and every run).
    const sharedBudget = new SharedBudget(new SqlCredentialBudget(db, credentialOf(config.github.token), identity.id), log);
    const github = new GitHubClient({
      baseUrl: config.github.baseUrl,
      token: config.github.token,
      timeoutMs: config.github.httpClientTimeout,
      userAgent: USER_AGENT,
      throttle: {
        minIntervalMs: config.github.rateLimit.minInterval,
        maxConcurrent: config.github.rateLimit.maxConcurrent,
        pointsPerMinute: config.github.rateLimit.pointsPerMinute,
        graphqlPointsPerMinute: config.github.rateLimit.graphqlPointsPerMinute,
        cpuMsPerMinute: config.github.rateLimit.cpuPerMinute,
        primaryPacing: true,
        ...(hooks.writeMinIntervalMs === undefined ? {} : { writeMinIntervalMs: hooks.writeMinIntervalMs }),
        ...(hooks.writeBudget?.perMinute === undefined ? {} : { writesPerMinute: hooks.writeBudget.perMinute }),
        ...(hooks.writeBudget?.perHour === undefined ? {} : { writesPerHour: hooks.writeBudget.perHour }),
        sharedWrites: sharedBudget.writes,
      },
      telemetry: fanOut<GitHubTelemetry>(hooks.githubTelemetry, {
        onRateLimit: (info) => rateLimitRecorder.seen(info),
        onWait: (info) => logLongHold(log, info),
        onHold: (info) => sharedBudget.learnt(info),
      }),
    });
    const tally: DispatchTally = { pause: null, deadJobs: 0 };
    const leases = new WorkLeases({ store: new SqlWorkLeaseStore(db, identity.id), instances, log });
    const pauseStore = new SqlPauseStore(db);
    const executors = buildExecutors(config, {
      onStderr: (line) => log.info({ stderr: line }, 'executor stderr'),
      ...(hooks.executor ? { defaultExecutor: hooks.executor } : {}),
    });
    const router = new Router(config.rules, {
      requiredLabel: config.github.issues.requiredLabel,
      onPatternGaveUp: (gaveUp) => log.warn({ rule: gaveUp.rule, field: gaveUp.field }, `rules[${gaveUp.rule}].when.${gaveUp.field}: ${gaveUp.reason}; counted as not matching`),
    });
    const catalog = new SqlIssueCatalog(db);
    const issueSync = new SqlIssueSyncStore(db, { maxAttempts: config.ai.maxAttempts, reanalyze: config.github.issues.reanalyze });
    // The poller rings when it queues jobs: they are answered now, not at the dispatcher's next interval.
    const jobsQueued = new Doorbell();
    const backlogSettings = {
      store: new SqlBacklogStore(db, { maxAttempts: config.ai.maxAttempts }),
      backlog: config.github.issues.backlog,
      requiredLabel: config.github.issues.requiredLabel,
      dryRun: config.ai.dryRun,
      log,
    };
    const fleet = new FleetWiring({
      config,
      github,
      store: new SqlFleetStore(db),
      scopes: new SqlScopeSyncStore(db, { maxAttempts: config.ai.maxAttempts, reanalyze: config.github.issues.reanalyze }),
      state,
      log,
      leases,
      // Configured repositories are reconciled in setup; discovered ones when the fleet starts.
      backlogReconciler: backlogReconciler(backlogSettings),
      onEnqueued: () => jobsQueued.ring(),
      ...(hooks.onFleetProjection ? { onProjection: hooks.onFleetProjection } : {}),
      ...(hooks.onPoll ? { onPoll: hooks.onPoll } : {}),
    });
    const entries = registry({
      repositoryValidator: { github, repositories, log },
      backlogReconciler: backlogSettings,
      issuePoller: {
        github,
        store: issueSync,
        interval: config.github.issues.parseInterval,
        requiredLabel: config.github.issues.requiredLabel,
        backlog: config.github.issues.backlog,
        log,
        ...(hooks.onPoll ? { onPoll: hooks.onPoll } : {}),
        onEnqueued: () => jobsQueued.ring(),
      },
      // Nobody may ask (ai.mentionFrom: []): follow-ups are off, and comments are not polled.
      commentPoller: config.ai.mentionFrom.length === 0 ? undefined : {
        github,
        store: new SqlCommentSyncStore(db, { maxAttempts: config.ai.maxAttempts }),
        firstSync: issueSync,
        issueIdOf: (repositoryId, number) => catalog.idOf(repositoryId, number),
        mention: { handle: config.ai.mention, allowed: config.ai.mentionFrom },
        interval: config.github.issues.parseInterval,
        log,
        ...(hooks.onCommentPoll ? { onPoll: hooks.onCommentPoll } : {}),
        onEnqueued: () => jobsQueued.ring(),
      },
      dispatcher: {
        queue,
        catalog,
        github,
        executor: executors.get(DEFAULT_EXECUTOR),
        executors: (name) => executors.get(name),
        router,
        reanalyze: config.github.issues.reanalyze,
        conversation: {
          revisions: queue,
          maxRevisionsPerIssue: config.ai.maxRevisionsPerIssue,
          mention: { handle: config.ai.mention, allowed: config.ai.mentionFrom },
        },
        interval: DISPATCH_INTERVAL_MS,
        wake: jobsQueued,
        concurrency: config.ai.concurrency,
        leaseMs: config.ai.visibilityTimeout,
        requiredLabel: config.github.issues.requiredLabel,
        promptTemplate: config.ai.prompt ?? DEFAULT_PROMPT,
        maxBodyChars: config.ai.maxBodyChars,
        dryRun: config.ai.dryRun,
        secrets: knownSecrets(config),
        log,
        around: (info, work) => withLogContext(info, work),
        observer: fanOut<DispatchObserver>(hooks.dispatchObserver, {
          jobSettled: ({ outcome }) => {
            if (outcome === 'dead') tally.deadJobs++;
          },
        }),
        pauses: {
          record: async (pause) => {
            tally.pause = pause;
            hooks.onDispatcherPause?.(pause);
            return pauseStore.record(pause);
          },
        },
      },
      fleet: fleet.detectors(config.github.issues.backlog),
    });
    const scheduler = new Scheduler({
      log,
      retryBudgetMs: config.scheduler.setupBudget,
      walkConcurrency: config.github.fleet.walkConcurrency,
      baseline: scaledBaseline(testRetryScale(processEnv()).factor),
      around: (job, pass) => withLogContext({ job: job.name, ...(job.repository ? { repository: fullName(job.repository) } : {}) }, pass),
      ...(hooks.schedulerObserver ? { observer: hooks.schedulerObserver } : {}),
    });
    await sharedBudget.start(github);
    const app = new App(config, database, queue, log, scheduler, entries, repositories, rateLimitRecorder, sharedBudget, observability, instance, fleet, leases, tally, lost.signal);
    if (observability) {
      try {
        app.httpUrl = await observability.start(() => app.health());
      } catch (error) {
        await app.close();
        throw error;
      }
    }
    return app;
  }

  /** Where the dashboard and /metrics are served, when `http.listen` is set. */
  httpUrl: string | undefined;

  health(): { alive: boolean; ready: boolean; detail?: string } {
    switch (this.#state) {
      case 'working': {
        const loss = this.instance.databaseLoss;
        if (loss) return { alive: true, ready: false, detail: `the database does not answer since ${loss.since}: ${loss.error}` };
        const pause = this.tally.pause;
        if (pause) return { alive: true, ready: false, detail: `the dispatcher is paused (${pause.reason}) since ${pause.since}: ${pause.message}` };
        return { alive: true, ready: true };
      }
      case 'stopped':
        return { alive: false, ready: false, detail: 'the scheduler has stopped' };
      default:
        return { alive: true, ready: false, detail: 'setup has not passed yet' };
    }
  }

  get state(): AppState {
    return this.#state;
  }

  /**
   * Plans (rejecting a bad plan before any I/O), runs setup, then the workers:
   * one pass each with `once`, otherwise until the signal aborts. `signal`
   * stops taking work; `inFlight` (default: `signal`) aborts what is in flight.
   */
  async run(signal: AbortSignal, { once, inFlight = signal }: { once: boolean; inFlight?: AbortSignal }): Promise<RunSummary> {
    const configured: RepositoryRef[] = this.config.github.repositories;
    const organizations = this.config.github.organizations.map((org) => org.name);
    const thePlan = plan(this.entries, configured);
    this.#state = 'setup';
    const discovering = organizations.length === 0 ? '' : ` and discovering the repositories of ${organizations.join(', ')}`;
    this.log.info({ repositories: configured.length, organizations, jobs: thePlan.workNames }, `setup: validating ${configured.length} repositories${discovering}`);
    const setupStarted = Date.now();
    // This daemon's share of the work units is taken before setup: the first discovery runs on the holder of `discovery`.
    await this.leases.ensure(this.fleet.singletonUnits());
    await this.leases.start();
    const setupJobs = [...thePlan.setup, ...this.fleet.setupSteps().map((step) => globalSetupJob(step, 'github.organizations'))];
    await this.scheduler.setup(setupJobs, signal).catch((error: unknown) => {
      // The scheduler knows the network failed, not where GitHub was looked for.
      if (!(error instanceof SetupFailedError) || !error.failures.some((f) => f.kind === 'node')) throw error;
      const where = new URL(this.config.github.baseUrl);
      const advice = `GitHub did not answer at ${where.origin}${where.pathname.replace(/\/$/, '')}: check github.baseUrl and the network`;
      throw new SetupFailedError(error.failures, error.total, error.budgetMs, advice);
    });
    const setupMs = Date.now() - setupStarted;
    const partitions = await this.#partitions(configured);
    // The walks are the fleet's: every member, configured or discovered, on the path it was given.
    const jobs = thePlan
      .bindWork((repository) => {
        const partition = partitions.get(fullName(repository));
        if (!partition) throw new Error(`no repository id for ${fullName(repository)} after setup`);
        return partition;
      })
      .filter((job) => job.scope === 'global');
    await this.fleet.start(this.scheduler.walks, (partition) => thePlan.jobsFor(partition), signal);
    this.#state = 'working';
    const paths = this.fleet.fleet.counts();
    this.log.info(
      { setupMs, jobs: jobs.length, repositories: this.fleet.fleet.size, paths },
      `setup passed in ${setupMs} ms; ${once ? 'one pass of' : 'starting'} ${jobs.length} workers for ${this.fleet.fleet.size} repositories ` +
        `(walked: ${paths.walk}, streamed: ${paths.stream}, swept: ${paths.sweep})`,
    );
    const deadBefore = this.tally.deadJobs;
    try {
      const summary = await this.scheduler.work(jobs, signal, { once, inFlight });
      return { ...summary, deadJobs: this.tally.deadJobs - deadBefore };
    } finally {
      this.#state = 'stopped';
    }
  }

  /** Releases resources last-in first-out; the database closes last. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.observability?.close();
      await this.fleet.stop();
      // Before the registration goes: the other daemons take the units at their next heartbeat.
      await this.leases.stop();
      await this.rateLimitRecorder.flush();
      await this.sharedBudget.stop();
      await this.instance.stop();
      await this.database.close();
    })();
    return this.#closing;
  }

  async #partitions(configured: readonly RepositoryRef[]): Promise<Map<string, Partition>> {
    const partitions = new Map<string, Partition>();
    for (const repository of configured) {
      const id = await this.repositories.idOf(repository);
      if (id !== undefined) partitions.set(fullName(repository), { ...repository, repositoryId: id });
    }
    return partitions;
  }
}
