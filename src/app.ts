/**
 * The composition root: builds every object once, by hand, from the validated
 * configuration. The only module that knows everything.
 */
import type { Logger } from 'pino';
import { processEnv } from './config/load.js';
import { formatDuration } from './config/duration.js';
import type { Config } from './config/schema.js';
import { fullName, type Partition, type RepositoryRef } from './domain/entities.js';
import type { DispatchObserver, Executor, Log } from './domain/ports.js';
import { Doorbell } from './domain/doorbell.js';
import { DEFAULT_PROMPT } from './domain/prompt.js';
import type { DispatcherPause } from './domain/tasks/global/dispatch-failure.js';
import { GitHubClient, type GitHubTelemetry, type WaitReason, type WriteHistory } from './infra/github/index.js';
import { createExecutor, type ExecutorSettings } from './infra/ai/index.js';
import {
  currentInstance,
  openDatabase,
  RATE_LIMIT_STATE_KEY,
  SchemaMigrator,
  SqlBacklogStore,
  SqlIssueCatalog,
  SqlInstanceRegistry,
  SqlIssueSyncStore,
  SqlJobQueue,
  SqlPauseStore,
  SqlRepositoryStore,
  SqlStateStore,
  type Database,
} from './infra/store/index.js';
import { withLogContext } from './infra/telemetry/logger.js';
import { plan } from './schedule/planner.js';
import { registry } from './schedule/registry.js';
import { Scheduler, SetupFailedError, type SchedulerObserver, type WorkSummary } from './schedule/scheduler.js';
import { Observability } from './observability.js';
import { USER_AGENT, VERSION } from './version.js';

/** How often the dispatcher looks at the queue. */
const DISPATCH_INTERVAL_MS = 5_000;
/** How often a running daemon renews its registration, and when one on another host counts as gone. */
const INSTANCE_HEARTBEAT_MS = 5_000;
const INSTANCE_STALE_MS = 30_000;

export interface AppHooks {
  /** Replaces the configured executor (the demo's built-in one). */
  readonly executor?: Executor;
  readonly githubTelemetry?: GitHubTelemetry;
  readonly schedulerObserver?: SchedulerObserver;
  readonly dispatchObserver?: DispatchObserver;
  readonly onPoll?: (repository: string, outcome: 'changed' | 'not_modified' | 'error') => void;
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
    private readonly observability: Observability | undefined,
    private readonly instance: InstanceHeartbeat,
    private readonly tally: DispatchTally,
  ) {}

  static async create(config: Config, log: Logger, given: AppHooks = {}): Promise<App> {
    const database = openDatabase(config.database.sqlitePath);
    const identity = currentInstance();
    const instances = new SqlInstanceRegistry(database.db, identity, { version: VERSION, staleAfterMs: INSTANCE_STALE_MS });
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
    const instance = new InstanceHeartbeat(instances, log);
    const hooks = observability ? mergeHooks(given, observability.hooks()) : given;
    const db = database.db;
    const repositories = new SqlRepositoryStore(db);
    const queue = new SqlJobQueue(db, { retryDelayMs: config.ai.retryDelay, owner: identity });
    const state = new SqlStateStore(db);
    const rateLimitRecorder = new RateLimitRecorder(state, log);
    const github = new GitHubClient({
      baseUrl: config.github.baseUrl,
      token: config.github.token,
      timeoutMs: config.github.httpClientTimeout,
      userAgent: USER_AGENT,
      throttle: {
        minIntervalMs: config.github.rateLimit.minInterval,
        maxConcurrent: config.github.rateLimit.maxConcurrent,
        ...(hooks.writeMinIntervalMs === undefined ? {} : { writeMinIntervalMs: hooks.writeMinIntervalMs }),
        ...(hooks.writeBudget?.perMinute === undefined ? {} : { writesPerMinute: hooks.writeBudget.perMinute }),
        ...(hooks.writeBudget?.perHour === undefined ? {} : { writesPerHour: hooks.writeBudget.perHour }),
        writeHistory: writeHistoryIn(state, log),
      },
      telemetry: fanOut<GitHubTelemetry>(hooks.githubTelemetry, {
        onRateLimit: (info) => rateLimitRecorder.seen(info),
        onWait: (info) => logLongHold(log, info),
      }),
    });
    const tally: DispatchTally = { pause: null, deadJobs: 0 };
    const pauseStore = new SqlPauseStore(db);
    const executor = hooks.executor ?? createExecutor(executorSettings(config), { onStderr: (line) => log.info({ stderr: line }, 'executor stderr') });
    // The poller rings when it queues jobs: they are answered now, not at the dispatcher's next interval.
    const jobsQueued = new Doorbell();
    const entries = registry({
      repositoryValidator: { github, repositories, log },
      backlogReconciler: {
        store: new SqlBacklogStore(db, { maxAttempts: config.ai.maxAttempts }),
        backlog: config.github.issues.backlog,
        requiredLabel: config.github.issues.requiredLabel,
        dryRun: config.ai.dryRun,
        log,
      },
      issuePoller: {
        github,
        store: new SqlIssueSyncStore(db, { maxAttempts: config.ai.maxAttempts }),
        interval: config.github.issues.parseInterval,
        requiredLabel: config.github.issues.requiredLabel,
        backlog: config.github.issues.backlog,
        log,
        ...(hooks.onPoll ? { onPoll: hooks.onPoll } : {}),
        onEnqueued: () => jobsQueued.ring(),
      },
      dispatcher: {
        queue,
        catalog: new SqlIssueCatalog(db),
        github,
        executor,
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
    });
    const scheduler = new Scheduler({
      log,
      retryBudgetMs: config.scheduler.setupBudget,
      around: (job, pass) => withLogContext({ job: job.name, ...(job.repository ? { repository: fullName(job.repository) } : {}) }, pass),
      ...(hooks.schedulerObserver ? { observer: hooks.schedulerObserver } : {}),
    });
    const app = new App(config, database, queue, log, scheduler, entries, repositories, rateLimitRecorder, observability, instance, tally);
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
    const thePlan = plan(this.entries, configured);
    this.#state = 'setup';
    this.log.info({ repositories: configured.length, jobs: thePlan.workNames }, `setup: validating ${configured.length} repositories`);
    const setupStarted = Date.now();
    await this.scheduler.setup(thePlan.setup, signal).catch((error: unknown) => {
      // The scheduler knows the network failed, not where GitHub was looked for.
      if (!(error instanceof SetupFailedError) || !error.failures.some((f) => f.kind === 'node')) throw error;
      const where = new URL(this.config.github.baseUrl);
      const advice = `GitHub did not answer at ${where.origin}${where.pathname.replace(/\/$/, '')}: check github.baseUrl and the network`;
      throw new SetupFailedError(error.failures, thePlan.setup.length, error.budgetMs, advice);
    });
    const setupMs = Date.now() - setupStarted;
    const partitions = await this.#partitions(configured);
    const jobs = thePlan.bindWork((repository) => {
      const partition = partitions.get(fullName(repository));
      if (!partition) throw new Error(`no repository id for ${fullName(repository)} after setup`);
      return partition;
    });
    this.#state = 'working';
    this.log.info({ setupMs, jobs: jobs.length }, `setup passed in ${setupMs} ms; ${once ? 'one pass of' : 'starting'} ${jobs.length} workers`);
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
      await this.rateLimitRecorder.flush();
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

function executorSettings(config: Config): ExecutorSettings {
  const timeoutMs = config.ai.timeout;
  switch (config.ai.provider) {
    case 'ollama':
      return { provider: 'ollama', endpoint: config.ollama.endpoint, model: config.ollama.model, timeoutMs };
    case 'openai':
      return { provider: 'openai', baseUrl: config.ai.openai.baseUrl, model: config.ai.openai.model ?? '', apiKey: config.ai.openai.apiKey, timeoutMs };
    case 'command':
      return {
        provider: 'command',
        run: config.ai.command.run ?? [],
        timeoutMs,
        parentEnv: processEnv(),
        allowEnv: config.ai.command.passEnv,
        secrets: knownSecrets(config),
        ...(config.ai.command.cwd === undefined ? {} : { cwd: config.ai.command.cwd }),
      };
    case 'demo':
      return { provider: 'demo' };
  }
}

/** What no comment may carry: the token, the API key, and the values handed to the command by ai.command.passEnv. */
function knownSecrets(config: Config): string[] {
  const env = processEnv();
  const passed = config.ai.command.passEnv.map((name) => env[name] ?? '');
  return [config.github.token, config.ai.openai.apiKey, ...passed].filter((secret) => secret !== '');
}

/** The given hooks plus the metrics' observers: every observer hears every event. */
function mergeHooks(given: AppHooks, metrics: AppHooks): AppHooks {
  const polls = [given.onPoll, metrics.onPoll].filter((f) => f !== undefined);
  return {
    ...given,
    githubTelemetry: fanOut(given.githubTelemetry, metrics.githubTelemetry),
    schedulerObserver: fanOut(given.schedulerObserver, metrics.schedulerObserver),
    dispatchObserver: fanOut(given.dispatchObserver, metrics.dispatchObserver),
    ...pauseListeners(given, metrics),
    ...(polls.length > 0 ? { onPoll: (repository, outcome) => polls.forEach((f) => f(repository, outcome)) } : {}),
  };
}

function pauseListeners(...hooks: AppHooks[]): Pick<AppHooks, 'onDispatcherPause'> {
  const listeners = hooks.map((h) => h.onDispatcherPause).filter((f) => f !== undefined);
  return listeners.length === 0 ? {} : { onDispatcherPause: (pause) => listeners.forEach((f) => f(pause)) };
}

/** One observer that calls, method by method, each given one; undefined ones are skipped. */
function fanOut<T extends object>(...observers: Array<T | undefined>): T {
  const present = observers.filter((o): o is T => o !== undefined);
  const methods = new Set(present.flatMap((o) => Object.keys(o)));
  return Object.fromEntries(
    [...methods].map((name) => [
      name,
      (...args: unknown[]) => {
        for (const observer of present) (observer as Record<string, ((...x: unknown[]) => void) | undefined>)[name]?.(...args);
      },
    ]),
  ) as T;
}

/** Where the write budget's recent history is kept (SqlStateStore key), so consecutive `run --once` share one budget. */
const WRITE_HISTORY_KEY = 'github.writeStarts';

function writeHistoryIn(state: SqlStateStore, log: Log): WriteHistory {
  return {
    load: async () => {
      try {
        const stored = await state.get<unknown>(WRITE_HISTORY_KEY);
        return Array.isArray(stored?.value) ? stored.value.filter((at): at is number => typeof at === 'number') : [];
      } catch (error) {
        log.warn({ error: String(error) }, 'could not read the comment budget spent by earlier runs; counting from zero');
        return [];
      }
    },
    save: async (starts) => {
      try {
        await state.put(WRITE_HISTORY_KEY, starts);
      } catch (error) {
        log.warn({ error: String(error) }, 'could not record the comment budget spent; a restart may count from zero');
      }
    },
  };
}

const HOLD_WORDS: Record<WaitReason, string> = {
  'primary-rate-limit': "GitHub's rate limit for the token is spent until its reset",
  'secondary-rate-limit': "GitHub's secondary rate limit",
  'retry-after': 'GitHub asked to wait (retry-after)',
  'write-pacing': 'the comment budget for the minute or the hour is spent',
};

/** Holds long enough to look like a hang are said out loud. */
function logLongHold(log: Log, info: { reason: WaitReason; waitMs: number }): void {
  if (info.waitMs < 10_000) return;
  log.info({ reason: info.reason, waitMs: info.waitMs }, `GitHub requests held for ${formatDuration(Math.ceil(info.waitMs / 1000) * 1000)}: ${HOLD_WORDS[info.reason]}`);
}

/** Renews this daemon's registration while it runs; unregisters on close. */
class InstanceHeartbeat {
  readonly #timer: NodeJS.Timeout;
  #beating: Promise<void> = Promise.resolve();

  constructor(
    private readonly instances: SqlInstanceRegistry,
    private readonly log: Log,
  ) {
    this.#timer = setInterval(() => {
      this.#beating = this.#beat();
    }, INSTANCE_HEARTBEAT_MS);
    this.#timer.unref();
  }

  async #beat(): Promise<void> {
    try {
      if (!(await this.instances.heartbeat())) {
        this.log.error({}, 'this daemon\'s registration in the database is gone: another daemon took it over after missing heartbeats; stop one of them');
      }
    } catch (error) {
      this.log.warn({ error: String(error) }, 'could not renew this daemon\'s registration in the database; retrying');
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#beating;
    try {
      await this.instances.unregister();
    } catch (error) {
      this.log.warn({ error: String(error) }, 'could not remove this daemon\'s registration from the database');
    }
  }
}

/** Keeps the latest rate-limit budget seen, written to the database at most every few seconds. */
class RateLimitRecorder {
  #latest: unknown;
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly state: SqlStateStore,
    private readonly log: Log,
  ) {}

  seen(info: { limit: number; remaining: number; resetAt: number; resource: string }): void {
    this.#latest = info;
    this.#dirty = true;
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, 2_000).unref();
  }

  async flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#dirty) return;
    this.#dirty = false;
    try {
      await this.state.put(RATE_LIMIT_STATE_KEY, this.#latest);
    } catch (error) {
      this.log.warn({ error: String(error) }, 'could not record the rate-limit budget');
    }
  }
}
