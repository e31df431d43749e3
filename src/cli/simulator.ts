/** `autosolve simulator`: serve the GitHub API simulator on a local port until SIGINT/SIGTERM. */
import { Command, InvalidArgumentError } from 'commander';
import { parseDuration } from '../config/duration.js';
import { demoScenario, loadScenario, ScenarioError, startSimulator } from '../simulator/index.js';
import type { Scenario, SimulatorOptions } from '../simulator/index.js';

interface SimulatorFlags {
  port: number;
  host: string;
  scenario?: string;
  token?: string[];
  rateLimit?: number;
  clockOffset?: number;
  logRequests?: boolean;
}

function nonNegativeInt(max: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value) || parsed > max) throw new InvalidArgumentError(`expected an integer from 0 to ${max}`);
    return parsed;
  };
}

/** `10m`, `+10m` or `-90s`: how far the simulated GitHub's clock is from this machine's. */
function clockOffset(value: string): number {
  const match = /^([+-]?)(.+)$/.exec(value.trim());
  const ms = match ? parseDuration(match[2] ?? '') : undefined;
  if (!match || ms === undefined) throw new InvalidArgumentError('expected a duration such as 10m, +10m or -90s');
  return match[1] === '-' ? -ms : ms;
}

/** Resolves on the first SIGINT/SIGTERM; `release` removes the listeners when we stop for another reason. */
function stopSignal(): { received: Promise<NodeJS.Signals>; release(): void } {
  let stop: (signal: NodeJS.Signals) => void = () => undefined;
  const release = () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  };
  const received = new Promise<NodeJS.Signals>((resolve) => {
    stop = (signal) => {
      release();
      resolve(signal);
    };
  });
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return { received, release };
}

async function runSimulator(flags: SimulatorFlags): Promise<void> {
  let scenario: Scenario;
  try {
    scenario = flags.scenario === undefined ? demoScenario() : loadScenario(flags.scenario);
  } catch (error) {
    if (!(error instanceof ScenarioError)) throw error;
    process.stderr.write(`autosolve simulator: invalid scenario ${error.message}\n`);
    process.exitCode = 2;
    return;
  }
  // A demo can run for days; the request log is for tests, so keep only a recent window of it.
  const options: SimulatorOptions = { port: flags.port, host: flags.host, scenario, requestLogLimit: 1000 };
  if (flags.token) options.tokens = flags.token;
  if (flags.rateLimit !== undefined) options.rateLimit = flags.rateLimit;
  if (flags.clockOffset !== undefined) options.clockOffsetMs = flags.clockOffset;
  // Listen for signals before the URL is printed, so a supervisor that stops us right away is honoured.
  const stopped = stopSignal();
  let simulator;
  try {
    simulator = await startSimulator(options);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    process.stderr.write(`autosolve simulator: cannot start on ${flags.host}:${flags.port}: ${reason}\n`);
    process.exitCode = 1;
    stopped.release();
    return;
  }
  const repositories = scenario.repositories
    .map((repo) => `${repo.owner}/${repo.name} (${repo.issues?.length ?? 0} issues)`)
    .join(', ');
  process.stdout.write(
    `GitHub API simulator listening on ${simulator.url}\n` +
      `tokens: ${simulator.tokens.join(', ')}\n` +
      `repositories: ${repositories || 'none'}\n`,
  );
  if (flags.logRequests) {
    simulator.onRequest((request) => {
      const query = new URLSearchParams(request.query).toString();
      process.stdout.write(`${request.method} ${request.path}${query ? `?${query}` : ''} ${request.status}\n`);
    });
  }
  const signal = await stopped.received;
  process.stdout.write(`received ${signal}, closing\n`);
  await simulator.close();
  process.exitCode = 0;
}

export function simulatorCommand(): Command {
  return new Command('simulator')
    .description('Serve a GitHub REST API simulator on a local port, seeded with demo data or a scenario file')
    .option('--port <n>', 'port to listen on; 0 picks a free one', nonNegativeInt(65_535), 0)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--scenario <file>', 'YAML or JSON scenario to seed (default: the built-in demo data)')
    .option('--token <token...>', "accepted token(s) (default: the scenario's, else sim-token)")
    .option('--rate-limit <n>', 'requests per token per hour (default 5000)', nonNegativeInt(1_000_000))
    .option('--clock-offset <duration>', "GitHub's clock ahead of this machine's (10m) or behind it (-10m) (default 0)", clockOffset)
    .option('--log-requests', 'print one line per request handled')
    .action(async (flags: SimulatorFlags) => {
      await runSimulator(flags);
    });
}
