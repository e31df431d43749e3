/**
 * The operator's window, wired when `http.listen` is set: Prometheus metrics
 * fed by the client, scheduler, poller and dispatcher, and the read-only HTTP
 * endpoint with health, readiness and the dashboard. Part of the composition
 * root; loaded only when configured (prom-client is not small).
 */
import type { Kysely } from 'kysely';
import type { RepositoryRef } from './domain/entities.js';
import type { Log } from './domain/ports.js';
import { SqlPauseStore, StatusReader, type Schema } from './infra/store/index.js';
import type { DashboardSnapshot } from './infra/telemetry/dashboard.js';
import type { HealthState, RunningHttpServer } from './infra/telemetry/http-server.js';
import type { DaemonMetrics } from './infra/telemetry/metrics.js';
import type { AppHooks } from './app.js';

export class Observability {
  #server: RunningHttpServer | undefined;

  private constructor(
    private readonly metrics: DaemonMetrics,
    private readonly status: StatusReader,
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
    });
    return new Observability(metrics, status, new SqlPauseStore(db), listen, configured, log);
  }

  /** The observers the rest of the daemon reports to. */
  hooks(): AppHooks {
    return {
      githubTelemetry: this.metrics.githubTelemetry(),
      schedulerObserver: this.metrics.schedulerObserver(),
      dispatchObserver: this.metrics.dispatchObserver(),
      onPoll: (repository, outcome) => this.metrics.pollFinished(repository, outcome),
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
    const [repositories, queue, rateLimit, comments, pause] = await Promise.all([
      this.status.repositories(new Date(), this.configured),
      this.status.queue(),
      this.status.rateLimit(),
      this.status.latestComments(10),
      this.pauses.read(),
    ]);
    return {
      generatedAt: new Date().toISOString(),
      ready,
      dispatcherPause: pause,
      repositories: repositories
        .filter((r) => r.configured)
        .map((r) => ({ repository: r.repository, validated: r.validated, lastPolledAt: r.lastPolledAt, lastError: r.lastError, issues: r.issues.stored, jobs: r.jobs })),
      queue,
      rateLimit: rateLimit ? { limit: rateLimit.limit, remaining: rateLimit.remaining, resetAt: rateLimit.resetAt } : null,
      latestComments: comments.map((c) => ({ repository: c.repository, number: c.issueNumber ?? 0, title: c.issueTitle ?? '', url: c.commentUrl, postedAt: c.finishedAt ?? '' })),
    };
  }
}
