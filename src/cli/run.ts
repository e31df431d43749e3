/** `autosolve run [--once]`: the daemon. */
import { Command } from 'commander';
import type { Logger } from 'pino';
import { App } from '../app.js';
import { withDryRun } from '../config/overrides.js';
import { createLogger } from '../infra/telemetry/logger.js';
import { EXIT_FAILURE, EXIT_JOBS_DEAD, EXIT_OK, UserFacingError } from './errors.js';
import { loadFor, withConfigOption, type ConfigOption } from './shared.js';

interface RunOptions extends ConfigOption {
  readonly once?: boolean;
  readonly dryRun?: boolean;
}

export function runCommand(): Command {
  return withConfigOption(new Command('run'))
    .description('run the daemon: validate every repository, then poll and answer until SIGINT/SIGTERM')
    .option('--once', 'setup, one full pass of every worker (pollers until caught up, the queue drained), then exit')
    .option('--dry-run', 'everything but posting: each comment is logged instead (same as ai.dryRun: true)')
    .action(async (options: RunOptions) => {
      const { config: loaded } = loadFor(options, true);
      const config = options.dryRun === true ? withDryRun(loaded) : loaded;
      const log = createLogger({ debug: config.log.debug, terminal: config.log.terminal, level: config.log.level });
      const app = await App.create(config, log).catch((error: unknown) => {
        if (error instanceof Error && error.name === 'InstanceConflictError') throw new UserFacingError(error.message, { cause: error });
        throw error;
      });
      process.exitCode = await runUntilDone(app, log, options.once === true, config.scheduler.shutdownGrace);
    });
}

/** After the grace, how long aborted work may take to hand its jobs back before the process exits anyway. */
const ABORT_DEADLINE_MS = 10_000;

/**
 * Runs the app with signal handling; resolves to the exit code. The database closes last.
 *
 * Shutdown in two steps: the first SIGINT/SIGTERM stops taking work and lets
 * what is in flight (a model run, a comment post) finish within `graceMs`;
 * then it is aborted, its jobs go back to the queue without spending an
 * attempt, and the exit code is 1. A second signal exits at once (130).
 */
export async function runUntilDone(app: App, log: Logger, once: boolean, graceMs: number): Promise<number> {
  const stop = new AbortController();
  const abort = new AbortController();
  let graceTimer: NodeJS.Timeout | undefined;
  let graceExpired = false;
  let lost: Error | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) {
      log.warn({ signal }, `second ${signal}: exiting now`);
      process.exit(130);
    }
    stopTaking(signal, new Error(`received ${signal}`), { signal });
  };
  // Another daemon took this one's registration over: stop as on SIGTERM, then exit 1 saying so.
  const onLost = () => {
    lost = app.registrationLost.reason as Error;
    if (!stop.signal.aborted) stopTaking('registration lost', lost, {});
  };
  const stopTaking = (why: string, reason: Error, fields: Record<string, unknown>) => {
    const grace = formatSeconds(graceMs);
    log.info({ ...fields, graceMs }, `${why}: stopping; taking no new work, in-flight work has ${grace} to finish (scheduler.shutdownGrace)`);
    stop.abort(reason);
    graceTimer = setTimeout(() => {
      graceExpired = true;
      log.error({ graceMs }, `shutdown grace of ${grace} expired; aborting the work still in flight (its jobs go back to the queue)`);
      abort.abort(new Error(`the shutdown grace of ${grace} expired`));
      // Aborted work hands its jobs back in moments; if it does not, leave anyway.
      setTimeout(() => {
        log.error({}, `in-flight work did not stop within ${formatSeconds(ABORT_DEADLINE_MS)} of the abort; exiting`);
        void app.close().finally(() => process.exit(EXIT_FAILURE));
      }, ABORT_DEADLINE_MS).unref();
    }, graceMs);
    graceTimer.unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  app.registrationLost.addEventListener('abort', onLost, { once: true });
  try {
    const summary = await app.run(stop.signal, { once, inFlight: abort.signal });
    if (lost) throw lost;
    if (graceExpired) {
      log.error({ graceMs }, 'stopped after the shutdown grace expired: in-flight work was aborted and its jobs returned to the queue');
      return EXIT_FAILURE;
    }
    if (stop.signal.aborted) {
      log.info('stopped cleanly: in-flight work finished');
      return EXIT_OK;
    }
    if (summary.failed.length > 0) {
      log.error({ failed: summary.failed }, `finished with ${summary.failed.length} failed jobs: ${summary.failed.join(', ')}`);
      return EXIT_FAILURE;
    }
    if (once && summary.deadJobs > 0) {
      log.error({ deadJobs: summary.deadJobs }, `${summary.deadJobs} queue jobs went dead in this pass (answers failed for good): \`autosolve jobs list --state dead\` shows why`);
      return EXIT_JOBS_DEAD;
    }
    log.info({ rssMb: Math.round(process.memoryUsage().rss / 1048576) }, 'done');
    return EXIT_OK;
  } catch (error) {
    if (lost) throw new UserFacingError(lost.message, { cause: lost });
    if (stop.signal.aborted) {
      log.info('stopped during setup');
      return EXIT_OK;
    }
    if (error instanceof Error && (error.name === 'SetupFailedError' || error.name === 'PlanError')) {
      throw new UserFacingError(error.message, { cause: error });
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    app.registrationLost.removeEventListener('abort', onLost);
    if (graceTimer) clearTimeout(graceTimer);
    await app.close();
  }
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${(ms / 1000).toFixed(1)}s`;
}
