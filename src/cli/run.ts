/** `autosolve run [--once]`: the daemon. */
import { Command } from 'commander';
import type { Logger } from 'pino';
import { App } from '../app.js';
import { createLogger } from '../infra/telemetry/logger.js';
import { EXIT_FAILURE, EXIT_JOBS_DEAD, EXIT_OK, UserFacingError } from './errors.js';
import { loadFor, withConfigOption, type ConfigOption } from './shared.js';

interface RunOptions extends ConfigOption {
  readonly once?: boolean;
}

export function runCommand(): Command {
  return withConfigOption(new Command('run'))
    .description('run the daemon: validate every repository, then poll and answer until SIGINT/SIGTERM')
    .option('--once', 'setup, one full pass of every worker (pollers until caught up, the queue drained), then exit')
    .action(async (options: RunOptions) => {
      const { config } = loadFor(options, true);
      const log = createLogger({ debug: config.log.debug, terminal: config.log.terminal });
      const app = await App.create(config, log);
      process.exitCode = await runUntilDone(app, log, options.once === true, config.scheduler.shutdownGrace);
    });
}

/** Runs the app with signal handling; resolves to the exit code. The database closes last. */
export async function runUntilDone(app: App, log: Logger, once: boolean, graceMs: number): Promise<number> {
  const controller = new AbortController();
  let graceTimer: NodeJS.Timeout | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      log.warn({ signal }, `second ${signal}: exiting now`);
      process.exit(130);
    }
    log.info({ signal, graceMs }, `${signal}: stopping; in-flight work has ${Math.round(graceMs / 1000)}s to finish`);
    controller.abort(new Error(`received ${signal}`));
    graceTimer = setTimeout(() => {
      log.error({ graceMs }, 'shutdown grace period expired; exiting with work still in flight');
      void app.close().finally(() => process.exit(EXIT_FAILURE));
    }, graceMs);
    graceTimer.unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const summary = await app.run(controller.signal, { once });
    if (controller.signal.aborted) {
      log.info('stopped cleanly');
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
    if (controller.signal.aborted) {
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
    if (graceTimer) clearTimeout(graceTimer);
    await app.close();
  }
}
