/**
 * The kill campaign: the real daemon, as a child process, is killed with
 * SIGKILL at chosen points — while polling, while the executor runs, as a
 * comment is posted, just after it was posted — round after round, with new
 * and edited issues between rounds. A final clean `run --once` must leave
 * every eligible issue with exactly one marker comment and none with two.
 *
 * Shared by test/kill-campaign-*.test.ts (fixed, time-compressed campaigns) and
 * bench/chaos.ts (longer campaigns, with figures).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { COMMENT_MARKER } from '../../src/domain/entities.js';
import type { Simulator } from '../../src/simulator/index.js';
import { startCli, tempDir, writeFile, type CliOptions, type CliResult } from './cli.js';
import { daemonConfig, simulator } from './daemon.js';

export const KILL_POINTS = ['poll', 'executor', 'post', 'complete', 'anytime'] as const;
export type KillPoint = (typeof KILL_POINTS)[number];

export interface CampaignOptions {
  readonly seed: number;
  /** Rounds that end in a kill (a round whose point never comes is killed by its watchdog and counted apart). */
  readonly rounds: number;
  readonly repositories?: number;
  /** The CLI's entry point, compiled (see compileCli); default: src/cli/main.ts through tsx. */
  readonly main?: string;
  /** Progress lines (bench). */
  readonly log?: (line: string) => void;
}

export interface CampaignResult {
  readonly rounds: number;
  readonly kills: Record<KillPoint | 'watchdog', number>;
  /** Eligible issues at the end. */
  readonly eligible: number;
  /** Issues with two or more marker comments (must be 0). */
  readonly duplicates: number;
  /** Eligible issues without a marker comment after the final run (must be 0). */
  readonly missing: number;
  /** Marker comments on issues that were never eligible (must be 0). */
  readonly unwanted: number;
  /** For each kill during an executor run: ms from the next daemon's start until that issue's executor ran again. */
  readonly recoveryMs: readonly number[];
  /** The final clean run. */
  readonly final: CliResult;
  /** Milliseconds for the whole campaign. */
  readonly elapsedMs: number;
}

/** A small deterministic PRNG (mulberry32): the same seed, the same campaign. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LABEL = 'autosolve';
const WATCHDOG_MS = 8_000;

/** The executor: tells the harness it started (and its pid), thinks a little, answers. */
const EXECUTOR = `const http = require('http');
const fs = require('fs');
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const url = process.argv[2] + '/started?repository=' + encodeURIComponent(input.repository) + '&number=' + input.number + '&pid=' + process.pid + '&ppid=' + process.ppid;
http.get(url, (res) => {
  res.resume();
  res.on('end', () => setTimeout(() => process.stdout.write('Answer for ' + input.repository + '#' + input.number), 20 + Math.floor(Math.random() * 120)));
}).on('error', () => process.exit(3));
`;

interface ExecutorStart {
  /** The daemon that spawned it (a daemon killed a moment ago may leave one that starts late). */
  readonly daemonPid: number;
  readonly repository: string;
  readonly number: number;
  readonly at: number;
}

/** Receives the executors' "started" calls; remembers their pids so none outlives the campaign. */
class ExecutorListener {
  readonly pids = new Set<number>();
  #listeners = new Set<(start: ExecutorStart) => void>();
  #server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.#server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://harness.invalid');
      const pid = Number(url.searchParams.get('pid'));
      if (pid > 0) this.pids.add(pid);
      res.end('ok');
      const start = { daemonPid: Number(url.searchParams.get('ppid')), repository: url.searchParams.get('repository') ?? '', number: Number(url.searchParams.get('number')), at: Date.now() };
      for (const listener of [...this.#listeners]) listener(start);
    });
    await new Promise<void>((resolve) => this.#server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  on(listener: (start: ExecutorStart) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Kills executors a killed daemon left behind. */
  reap(): void {
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.pids.clear();
  }

  async close(): Promise<void> {
    this.reap();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}

export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const started = Date.now();
  const rand = random(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
  const repositories = Array.from({ length: options.repositories ?? 2 }, (_, i) => ({ owner: 'chaos', name: `repo-${i + 1}` }));
  const names = repositories.map((r) => `${r.owner}/${r.name}`);
  const dir = tempDir('autosolve-chaos-');
  const sim = await simulator(repositories.map((r) => ({ ...r, issues: [] })));
  const executors = new ExecutorListener();
  const kills: Record<KillPoint | 'watchdog', number> = { poll: 0, executor: 0, post: 0, complete: 0, anytime: 0, watchdog: 0 };
  const recoveryMs: number[] = [];
  const everEligible = new Set<string>();
  try {
    await executors.start();
    const script = writeFile(dir.path, 'executor.cjs', EXECUTOR);
    const config = daemonConfig(dir.path, sim, names, {
      // Walked, as the kill points expect: at this interval `auto` would sweep the two repositories instead.
      github: { issues: { parseInterval: '200ms', requiredLabel: LABEL }, fleet: { detection: 'walk' } },
      ai: { provider: 'command', command: { run: [process.execPath, script, executors.url] }, timeout: '2s', visibilityTimeout: '3s', maxAttempts: 50, retryDelay: '0s' },
      scheduler: { setupBudget: '20s', shutdownGrace: '1s' },
    });
    let pendingRecovery: { repository: string; number: number } | undefined;
    const cli = { cwd: dir.path, ...(options.main === undefined ? {} : { main: options.main }) };
    for (let round = 1; round <= options.rounds; round++) {
      changeIssues(sim, names, rand, everEligible);
      // Points that need a queued job are only chosen when there is one.
      const waiting = tally(sim, repositories, everEligible).missing;
      const point = pick(waiting > 0 ? KILL_POINTS : (['poll', 'anytime'] as const));
      const outcome = await killRound(sim, executors, config.file, cli, point, rand, pendingRecovery, waiting);
      if (outcome.recoveredMs !== undefined) recoveryMs.push(outcome.recoveredMs);
      pendingRecovery = outcome.heldDuringKill;
      kills[outcome.watchdog ? 'watchdog' : point]++;
      options.log?.(`round ${round}: kill at ${outcome.watchdog ? `watchdog (${point} never came)` : point}`);
    }
    const finalStarted = Date.now();
    const finalRun = startCli(['run', '--once', '--config', config.file], cli);
    let finalRecovery: number | undefined;
    const stopWatching = executors.on((start) => {
      if (start.daemonPid !== finalRun.child.pid) return;
      if (pendingRecovery && finalRecovery === undefined && start.repository === pendingRecovery.repository && start.number === pendingRecovery.number) finalRecovery = start.at - finalStarted;
    });
    const final = await finalRun.finished;
    stopWatching();
    if (finalRecovery !== undefined) recoveryMs.push(finalRecovery);
    return { rounds: options.rounds, kills, recoveryMs, final, elapsedMs: Date.now() - started, ...tally(sim, repositories, everEligible) };
  } finally {
    await executors.close();
    await sim.close();
    dir.cleanup();
  }
}

/**
 * One new issue (most of them asking for an answer) and sometimes an edit
 * between rounds: the daemon always has a little to do, and the queue stays
 * short enough for the final run to drain it.
 */
function changeIssues(sim: Simulator, names: readonly string[], rand: () => number, everEligible: Set<string>): void {
  const full = names[Math.floor(rand() * names.length)] as string;
  const [owner, name] = full.split('/') as [string, string];
  const labelled = rand() < 0.8;
  const issue = sim.addIssue(owner, name, { title: `Bug ${Math.floor(rand() * 1e6)}`, body: 'It breaks.', labels: labelled ? [LABEL] : [] });
  if (labelled) everEligible.add(`${full}#${issue.number}`);
  const existing = sim.issues(owner, name);
  if (existing.length > 3 && rand() < 0.3) {
    const target = existing[Math.floor(rand() * existing.length)];
    if (target && target.state === 'open') sim.updateIssue(owner, name, target.number, { body: `Edited ${Math.floor(rand() * 1e6)}` });
  }
}

interface RoundOutcome {
  readonly watchdog: boolean;
  /** The issue whose executor was running when the daemon was killed. */
  readonly heldDuringKill?: { repository: string; number: number };
  readonly recoveredMs?: number;
}

/** Starts the daemon, waits for the kill point (or the watchdog), kills it with SIGKILL. */
async function killRound(
  sim: Simulator,
  executors: ExecutorListener,
  configFile: string,
  cli: CliOptions,
  point: KillPoint,
  rand: () => number,
  recovering: { repository: string; number: number } | undefined,
  waiting: number,
): Promise<RoundOutcome> {
  const spawnedAt = Date.now();
  const daemon = startCli(['run', '--config', configFile], cli);
  let running: ExecutorStart | undefined;
  let recoveredMs: number | undefined;
  const cleanups: Array<() => void> = [];
  const reached = new Promise<boolean>((resolve) => {
    const after = (ms: number) => setTimeout(() => resolve(true), ms);
    const watchdog = setTimeout(() => resolve(false), WATCHDOG_MS);
    cleanups.push(() => clearTimeout(watchdog));
    // The k-th occurrence of the point, so that rounds also get some work done.
    const occurrence = 1 + Math.floor(rand() * Math.min(2, Math.max(1, waiting)));
    const lists = 1 + Math.floor(rand() * 3);
    const delay = Math.floor(rand() * 100);
    let seenLists = 0;
    let seenRuns = 0;
    let seenPosts = 0;
    cleanups.push(
      executors.on((start) => {
        if (start.daemonPid !== daemon.child.pid) return;
        running = start;
        if (recovering && recoveredMs === undefined && start.repository === recovering.repository && start.number === recovering.number) recoveredMs = start.at - spawnedAt;
        if (point === 'executor' && ++seenRuns === occurrence) after(delay);
      }),
      sim.onRequest((request) => {
        if (point === 'poll' && request.method === 'GET' && /\/issues$/.test(request.path) && ++seenLists >= lists) resolve(true);
        if (request.method === 'POST' && /\/comments$/.test(request.path) && ++seenPosts === occurrence) {
          if (point === 'post') resolve(true);
          if (point === 'complete') after(delay);
        }
      }),
    );
    if (point === 'anytime') after(300 + Math.floor(rand() * 1_500));
    void daemon.finished.then(() => resolve(false));
  });
  const hit = await reached;
  for (const cleanup of cleanups) cleanup();
  daemon.child.kill('SIGKILL');
  const result = await daemon.finished;
  executors.reap();
  if (result.signal !== 'SIGKILL') {
    throw new Error(`the daemon exited by itself (code ${result.code}) instead of being killed at ${point}:\n${result.stderr.slice(-2_000)}\n${result.stdout.slice(-2_000)}`);
  }
  return { watchdog: !hit, ...(running ? { heldDuringKill: { repository: running.repository, number: running.number } } : {}), ...(recoveredMs === undefined ? {} : { recoveredMs }) };
}

function tally(sim: Simulator, repositories: ReadonlyArray<{ owner: string; name: string }>, everEligible: ReadonlySet<string>) {
  let eligible = 0;
  let duplicates = 0;
  let missing = 0;
  let unwanted = 0;
  for (const { owner, name } of repositories) {
    for (const issue of sim.issues(owner, name)) {
      const markers = sim.comments(owner, name, issue.number).filter((c) => c.body.includes(COMMENT_MARKER)).length;
      const wanted = issue.state === 'open' && issue.labels.some((l) => l.toLowerCase() === LABEL);
      if (markers > 1) duplicates++;
      if (wanted) eligible++;
      if (wanted && markers === 0) missing++;
      if (markers > 0 && !everEligible.has(`${owner}/${name}#${issue.number}`)) unwanted++;
    }
  }
  return { eligible, duplicates, missing, unwanted };
}

