/**
 * The operator's window, wired when `http.listen` is set: Prometheus metrics
 * fed by the client, scheduler, poller and dispatcher, and the read-only HTTP
 * endpoint with health, readiness and the dashboard. Part of the composition
 * root; loaded only when configured (prom-client is not small).
 */
import type { Kysely } from 'kysely';
import type { RepositoryRef } from './domain/entities.js';
import type { Log } from './domain/ports.js';
import { INSTANCE_STALE_MS } from './composition/instance-heartbeat.js';
import {
  readDaemons,
  SqlPauseStore,
  StatusReader,
  type DaemonsStatus,
  type DetectionStatus,
  type FleetStatus,
  type QueueJobRecord,
  type QueueTotals,
  type RepositoryStatus,
  type Schema,
} from './infra/store/index.js';
import { listJobs } from './infra/store/queue-operator.js';
import type { DashboardDaemons, DashboardFleet, DashboardJobs, DashboardSnapshot } from './infra/telemetry/dashboard.js';
import type { HealthState, RunningHttpServer } from './infra/telemetry/http-server.js';
import type { DaemonMetrics } from './infra/telemetry/metrics.js';
import type { AppHooks } from './app.js';

/** At most this many rows in the dashboard's repositories table; a fleet of 10,000 would bury the page. */
export const DASHBOARD_REPOSITORIES = 50;

/** The latest queue jobs the dashboard lists. */
export const DASHBOARD_JOBS = 10;

export class Observability {
  #server: RunningHttpServer | undefined;

  private constructor(
    private readonly metrics: DaemonMetrics,
    private readonly status: StatusReader,
    private readonly db: Kysely<Schema>,
    private readonly pauses: SqlPauseStore,
    private readonly listen: string,
    private readonly configured: readonly RepositoryRef[],
    private readonly log: Log,
  ) {}

  static async create(listen: string, db: Kysely<Schema>, configured: readonly RepositoryRef[], log: Log): Promise<Observability> {
    const { DaemonMetrics } = await import('./infra/telemetry/metrics.js');
    const status = new StatusReader(db);
    const metrics = new DaemonMetrics({
      queueCounts: () => status.queue(),
      onCollectError: (error) => log.warn({ error: String(error) }, 'metrics: could not read the queue'),
      ownSeries: configured.map((ref) => `${ref.owner}/${ref.name}`),
    });
    return new Observability(metrics, status, db, new SqlPauseStore(db), listen, configured, log);
  }

  /** The observers the rest of the daemon reports to. */
  hooks(): AppHooks {
    return {
      githubTelemetry: this.metrics.githubTelemetry(),
      schedulerObserver: this.metrics.schedulerObserver(),
      dispatchObserver: this.metrics.dispatchObserver(),
      onPoll: (repository, outcome) => this.metrics.pollFinished(repository, outcome),
      onCommentPoll: (repository, outcome) => this.metrics.commentPollFinished(repository, outcome),
      onDispatcherPause: (pause) => this.metrics.dispatcherPaused(pause),
      onFleetProjection: (capacity) => this.metrics.fleetProjected(capacity),
    };
  }

  /** Starts the HTTP endpoint; returns its URL. */
  async start(health: () => HealthState): Promise<string> {
    const { startHttpServer } = await import('./infra/telemetry/http-server.js');
    this.#server = await startHttpServer({
      listen: this.listen,
      metrics: this.metrics,
      health,
      dashboard: { snapshot: () => this.#snapshot(health().ready) },
      log: this.log,
    });
    this.log.info({ url: this.#server.url }, `dashboard, /metrics, /healthz and /readyz on ${this.#server.url}`);
    return this.#server.url;
  }

  async close(): Promise<void> {
    await this.#server?.close();
  }

  async #snapshot(ready: boolean): Promise<DashboardSnapshot> {
    const now = new Date();
    const [repositories, queue, rateLimit, comments, pause, fleet, detection, daemons, byType, latestJobs] = await Promise.all([
      this.status.repositories(now, this.configured),
      this.status.queue(),
      this.status.rateLimit(),
      this.status.latestComments(10),
      this.pauses.read(),
      this.status.fleet(now),
      this.status.detection(now),
      readDaemons(this.db, now, { staleAfterMs: INSTANCE_STALE_MS }),
      this.status.queueByType(),
      listJobs(this.db, { limit: DASHBOARD_JOBS }),
    ]);
    // The members: configured ones still configured, discovered ones (dropped ones are not listed).
    const members = repositories.filter((r) => r.configured || r.source === 'discovered');
    const shown = shownRepositories(members);
    return {
      generatedAt: now.toISOString(),
      ready,
      dispatcherPause: pause,
      repositories: shown.map((r) => ({
        repository: r.repository,
        detectionPath: r.detectionPath,
        validated: r.validated,
        lastPolledAt: r.lastPolledAt,
        lastError: r.lastError,
        issues: r.issues.stored,
        jobs: r.jobs,
      })),
      moreRepositories: members.length - shown.length,
      fleet: dashboardFleet(fleet, detection),
      daemons: dashboardDaemons(daemons),
      queue,
      jobs: dashboardJobs(byType, latestJobs),
      rateLimit: rateLimit ? { limit: rateLimit.limit, remaining: rateLimit.remaining, resetAt: rateLimit.resetAt } : null,
      latestComments: comments.map((c) => ({ repository: c.repository, number: c.issueNumber ?? 0, title: c.issueTitle ?? '', url: c.commentUrl, postedAt: c.finishedAt ?? '', type: c.type })),
    };
  }
}

/** Those that need a look first (an error, a failed setup, a live job, not validated), in status order, up to the cap. */
export function shownRepositories(members: readonly RepositoryStatus[]): RepositoryStatus[] {
  if (members.length <= DASHBOARD_REPOSITORIES) return [...members];
  const needsLook = (r: RepositoryStatus) => r.lastError !== null || r.setupError !== null || !r.validated || r.jobs.pending + r.jobs.running > 0;
  return [...members.filter(needsLook), ...members.filter((r) => !needsLook(r))].slice(0, DASHBOARD_REPOSITORIES);
}

/** Nothing while the fleet has nothing to say: no repository placed, nothing discovered, no stream, no projection. */
function dashboardFleet(fleet: FleetStatus, detection: DetectionStatus | null): DashboardFleet | null {
  const { members, dropped, scopes } = fleet;
  const placed = members.total - members.byPath.undecided;
  if (placed === 0 && members.bySource.discovered === 0 && dropped.count === 0 && scopes.length === 0 && detection === null) return null;
  const path = (p: DetectionStatus['paths']['walk']) => ({ interval: p.interval, latency: p.latency, bound: p.bound, stretched: p.boundBy !== 'interval' });
  return {
    members: members.byPath,
    dropped: dropped.count,
    detection: detection && {
      projectedAt: detection.projectedAt,
      paths: { walk: path(detection.paths.walk), stream: path(detection.paths.stream), sweep: path(detection.paths.sweep) },
    },
    streams: scopes.map((scope) => ({ scope: scope.scope, lastPolledAt: scope.lastPolledAt, lastError: scope.lastError })),
  };
}

/** What the jobs card shows: the queue by type, and the latest jobs with what each is about and how it ended. */
function dashboardJobs(byType: Record<string, QueueTotals>, latest: readonly QueueJobRecord[]): DashboardJobs {
  return {
    byType: Object.fromEntries(Object.entries(byType).map(([type, totals]) => [type, { ...totals }])),
    latest: latest.map((job) => ({
      id: job.id,
      repository: job.repository,
      number: job.issueNumber,
      title: job.issueTitle ?? '',
      type: job.type,
      subjectId: job.subjectId,
      state: job.state,
      outcome: job.outcome,
      url: job.commentUrl,
      at: job.finishedAt ?? job.updatedAt,
    })),
  };
}

/** What the daemons card shows: who runs, how fresh, what each holds (the ids stay: rows are keyed by them). */
function dashboardDaemons(status: DaemonsStatus): DashboardDaemons {
  return {
    daemons: status.daemons.map((d) => ({ id: d.id, host: d.host, pid: d.pid, version: d.version, heartbeatAt: d.heartbeatAt, live: d.live, leases: d.leases, units: [...d.units] })),
    units: status.units && { ...status.units },
    repositories: status.repositories && { ...status.repositories },
  };
}
