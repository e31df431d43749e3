/**
 * `autosolve demo`: the whole loop in a minute with no token and no network.
 * It starts the GitHub simulator in this process, writes a configuration for
 * it into a fresh folder, and runs the real daemon (App) against it: setup,
 * polling, dispatch, comments. Then it checks on the simulator what "GitHub"
 * now holds and prints a summary.
 */
import { closeSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { stringify } from 'yaml';
import { App, type AppHooks } from '../app.js';
import type { WorkSummary } from '../schedule/scheduler.js';
import { loadConfig } from '../config/load.js';
import type { RepositoryRef } from '../domain/entities.js';
import { describeError } from '../domain/failure.js';
import { StatusReader } from '../infra/store/index.js';
import { createLogger } from '../infra/telemetry/logger.js';
import { demoScenario, startSimulator, type Simulator } from '../simulator/index.js';
import { collectOutcome, DemoProgress, markerCounts, ProgressLine, renderSummary } from './demo-report.js';
import { EXIT_FAILURE, EXIT_OK, UsageError } from './errors.js';

interface DemoFlags {
  readonly ollama?: string;
  readonly openai?: string;
  readonly model?: string;
  readonly keepRunning?: boolean;
  readonly dir?: string;
}

type ExecutorChoice =
  | { readonly provider: 'demo' }
  | { readonly provider: 'ollama'; readonly url: string; readonly model: string }
  | { readonly provider: 'openai'; readonly url: string; readonly model: string };

const REQUIRED_LABEL = 'autosolve';
/** Comments against the local simulator: paced, so the throttle's write path runs, but not GitHub's 1 s. */
const WRITE_INTERVAL_MS = 100;
/** First line of the config.yml the demo writes; a folder whose config.yml lacks it is not ours to clear. */
const CONFIG_HEADER = '# Written by `autosolve demo`';
const DEMO_FILES = ['config.yml', 'autosolve.db', 'autosolve.db-wal', 'autosolve.db-shm', 'demo.log'];

export function demoCommand(): Command {
  return new Command('demo')
    .description('see the whole loop work: a built-in GitHub simulator, the real daemon, a summary (no token, no network)')
    .option('--ollama <url>', 'answer with Ollama at this address instead of the built-in demo executor')
    .option('--openai <url>', 'answer with an OpenAI-compatible API at this root; the key comes from OPENAI_API_KEY')
    .option('--model <name>', 'the model for --ollama (default llama3.1) or --openai (default gpt-4o-mini)')
    .option('--keep-running', 'after the summary keep the simulator, the daemon and the dashboard up until Ctrl-C')
    .option('--dir <folder>', 'folder for the database, config.yml and demo.log (default: a new folder in the temp dir)')
    .action(async (flags: DemoFlags) => {
      process.exitCode = await runDemo(flags);
    });
}

function chooseExecutor(flags: DemoFlags): ExecutorChoice {
  if (flags.ollama !== undefined && flags.openai !== undefined) throw new UsageError('demo: give --ollama or --openai, not both');
  if (flags.ollama !== undefined) return { provider: 'ollama', url: httpUrl('--ollama', flags.ollama), model: flags.model ?? 'llama3.1' };
  if (flags.openai !== undefined) return { provider: 'openai', url: httpUrl('--openai', flags.openai), model: flags.model ?? 'gpt-4o-mini' };
  if (flags.model !== undefined) throw new UsageError('demo: --model needs --ollama URL or --openai URL (the built-in demo executor has no model)');
  return { provider: 'demo' };
}

function httpUrl(flag: string, value: string): string {
  if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol)) throw new UsageError(`demo: ${flag} expects an http:// or https:// URL, got "${value}"`);
  return value;
}

function describeExecutor(choice: ExecutorChoice): string {
  switch (choice.provider) {
    case 'demo':
      return 'built-in demo executor (no AI model, no network)';
    case 'ollama':
      return `Ollama model ${choice.model} at ${choice.url}`;
    case 'openai':
      return `model ${choice.model} at ${choice.url}`;
  }
}

/** A fresh folder, or --dir cleared of an earlier demo's files (the new simulator would not match its database). */
function prepareFolder(dir: string | undefined): string {
  if (dir === undefined) return mkdtempSync(join(tmpdir(), 'autosolve-demo-'));
  const folder = resolve(dir);
  mkdirSync(folder, { recursive: true });
  const config = join(folder, 'config.yml');
  const ours = existsSync(config) && readFileSync(config, 'utf8').startsWith(CONFIG_HEADER);
  const taken = DEMO_FILES.filter((name) => existsSync(join(folder, name)));
  if (taken.length > 0 && !ours) {
    throw new UsageError(`demo: ${folder} already holds ${taken.join(', ')} not written by autosolve demo; choose another --dir`);
  }
  for (const name of DEMO_FILES) rmSync(join(folder, name), { force: true });
  return folder;
}

function writeConfig(folder: string, sim: Simulator, repositories: readonly RepositoryRef[], choice: ExecutorChoice, keepRunning: boolean): string {
  const config = {
    database: { sqlitePath: join(folder, 'autosolve.db') },
    github: {
      token: sim.tokens[0],
      baseUrl: sim.url,
      repositories,
      httpClientTimeout: '10s',
      // Quick, but still paced: every request goes through the throttle as in production.
      rateLimit: { minInterval: '50ms' },
      issues: { parseInterval: '15s', requiredLabel: REQUIRED_LABEL },
    },
    ...(choice.provider === 'ollama' ? { ollama: { endpoint: choice.url, model: choice.model } } : {}),
    ai: { provider: choice.provider, ...(choice.provider === 'openai' ? { openai: { baseUrl: choice.url, model: choice.model } } : {}) },
    scheduler: { setupBudget: '20s', shutdownGrace: '10s' },
    // The dashboard and /metrics, on a free loopback port, for --keep-running.
    ...(keepRunning ? { http: { listen: '127.0.0.1:0' } } : {}),
  };
  const file = join(folder, 'config.yml');
  writeFileSync(file, `${CONFIG_HEADER} for its GitHub simulator at ${sim.url}, which is gone once the demo ends.\n${stringify(config)}`);
  return file;
}

/** SIGINT/SIGTERM abort the run; in-flight work gets the grace period, a second signal exits at once. */
function stopOnSignal(graceMs: number): { signal: AbortSignal; setGrace(ms: number): void; release(): void } {
  const controller = new AbortController();
  let grace = graceMs;
  let timer: NodeJS.Timeout | undefined;
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    process.stdout.write(`\n${name}: stopping the demo\n`);
    controller.abort(new Error(`received ${name}`));
    timer = setTimeout(() => {
      process.stderr.write(`autosolve demo: shutdown took longer than ${Math.round(grace / 1000)}s; exiting\n`);
      process.exit(EXIT_FAILURE);
    }, grace).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    setGrace: (ms) => (grace = ms),
    release: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (timer) clearTimeout(timer);
    },
  };
}

async function runDemo(flags: DemoFlags): Promise<number> {
  const choice = chooseExecutor(flags);
  const folder = prepareFolder(flags.dir);
  const started = Date.now();
  const out = process.stdout;
  const stop = stopOnSignal(10_000);
  // Released last-in first-out; the log file closes after everything that writes to it.
  const cleanups: Array<() => Promise<void> | void> = [];
  try {
    const scenario = demoScenario();
    const sim = await startSimulator({ host: '127.0.0.1', port: 0, scenario, requestLogLimit: 1000 });
    cleanups.push(() => sim.close());
    const repositories: RepositoryRef[] = scenario.repositories.map(({ owner, name }) => ({ owner, name }));
    const configFile = writeConfig(folder, sim, repositories, choice, flags.keepRunning === true);
    // The real loader, so OPENAI_API_KEY and AUTOSOLVE_* apply as they do for `run`.
    const { config } = loadConfig({ file: configFile, forRun: true });
    stop.setGrace(config.scheduler.shutdownGrace);
    const logFile = join(folder, 'demo.log');
    const logFd = openSync(logFile, 'w');
    cleanups.push(() => closeSync(logFd));
    const log = createLogger({ debug: config.log.debug, terminal: false, destination: createWriteStream(logFile, { fd: logFd, autoClose: false }) });

    const issueCount = scenario.repositories.reduce((total, r) => total + (r.issues?.length ?? 0), 0);
    out.write(
      `autosolve demo: a GitHub simulator at ${sim.url} with ${repositories.length} repositories and ${issueCount} issues;\n` +
        `answers by the ${describeExecutor(choice)}. Working folder: ${folder}\n\n`,
    );
    const progress = new DemoProgress(new ProgressLine(out), repositories.length);
    // The last error of each job, to say why a worker failed without sending people to the log first.
    const failures = new Map<string, string>();
    const app = await App.create(config, log, hooksFor(progress, failures));
    cleanups.push(() => app.close());
    const reader = () => new StatusReader(app.database.db);
    progress.attach(reader());

    const before = markerCounts(sim, repositories);
    let work: WorkSummary | undefined;
    try {
      work = await app.run(stop.signal, { once: true });
    } catch (error) {
      // Aborted during setup: the scheduler throws the abort reason.
      if (!stop.signal.aborted) throw error;
    } finally {
      await progress.settled();
      progress.end();
    }
    if (stop.signal.aborted || work === undefined) {
      process.stderr.write(`autosolve demo: interrupted before it finished; what it did so far is in ${folder}\n`);
      return EXIT_FAILURE;
    }
    const outcome = await collectOutcome(app, sim, repositories, before, REQUIRED_LABEL);
    out.write(
      renderSummary(outcome, {
        database: config.database.sqlitePath,
        config: configFile,
        log: logFile,
        requiredLabel: REQUIRED_LABEL,
        elapsedMs: Date.now() - started,
      }),
    );
    if (outcome.problems.length > 0 || work.failed.length > 0) {
      const failed = work.failed.map((name) => `\n${name} failed: ${failures.get(name) ?? 'see the log'}`).join('');
      const problems = outcome.problems.map((p) => `\n  - ${p}`).join('');
      process.stderr.write(`autosolve demo: not every issue was handled as it should have been:${problems}${failed}\n(see ${logFile})\n`);
      return EXIT_FAILURE;
    }
    if (!flags.keepRunning) return EXIT_OK;
    return await keepRunning(app, sim, stop.signal);
  } finally {
    stop.release();
    while (cleanups.length > 0) await cleanups.pop()?.();
  }
}

/** The demo's progress line, fed by the daemon's own observers (metrics, when served, are wired by the app). */
function hooksFor(progress: DemoProgress, failures: Map<string, string>): AppHooks {
  return {
    writeMinIntervalMs: WRITE_INTERVAL_MS,
    schedulerObserver: {
      passSucceeded: (job) => {
        // Setup jobs are the ones without a scope; of those, only the validator says a repository is valid
        // (the backlog reconciler runs alongside it, per repository too).
        if (!('scope' in job) && job.resource === 'repository-validator') progress.repositoryValidated(job.name);
      },
      passFailed: (job, error) => {
        failures.set(job.name, describeError(error));
      },
    },
    dispatchObserver: {
      commentPosted: () => progress.commentPosted(),
      jobSettled: () => progress.refresh(),
    },
    onPoll: () => progress.refresh(),
  };
}

/** --keep-running: the daemon keeps polling and answering, with the dashboard, until SIGINT/SIGTERM. */
async function keepRunning(app: App, sim: Simulator, signal: AbortSignal): Promise<number> {
  const running = app.run(signal, { once: false });
  process.stdout.write(
    `\nStill running (--keep-running): the daemon polls every ${Math.round(app.config.github.issues.parseInterval / 1000)}s.\n` +
      `  dashboard:  ${app.httpUrl ?? '?'}/\n` +
      `  metrics:    ${app.httpUrl ?? '?'}/metrics\n` +
      `  simulator:  ${sim.url} (token ${sim.tokens[0] ?? ''})\n` +
      'Press Ctrl-C to stop.\n',
  );
  try {
    await running;
  } catch (error) {
    // A signal during the setup pass ends it with the abort reason: still a clean stop.
    if (!signal.aborted) throw error;
  }
  process.stdout.write('stopped cleanly\n');
  return EXIT_OK;
}
