/**
 * The kill campaign: the real daemon, as a child process, is killed with
 * SIGKILL at chosen points — while polling issues or comments, while the
 * executor runs, right after the `eyes` reaction, right after a comment is
 * written (an answer's or a reply's POST, a revision's PATCH), a moment after
 * that — round after round, with new issues, edits, and mentions of
 * @autosolve between rounds (kill-campaign-changes.ts). Then a clean
 * `run --once`, after which every eligible issue must have exactly one answer,
 * for its title and body as they are now, and every mention that asks exactly
 * one reply, and nothing else any (kill-campaign-verdict.ts); and a second
 * clean run that must write nothing.
 *
 * Shared by test/kill-campaign-*.test.ts (fixed, time-compressed campaigns) and
 * bench/chaos.ts (longer campaigns, with figures).
 */
import type { ChildProcess } from 'node:child_process';
import type { Simulator, SimRequest } from '../../src/simulator/index.js';
import { readMarker } from '../../src/domain/marker.js';
import { startCli, tempDir, type CliOptions, type CliResult } from './cli.js';
import { daemonConfig, simulator } from './daemon.js';
import { changeBetweenRounds, Ledger, type Changes } from './kill-campaign-changes.js';
import { ExecutorListener, WORK_KINDS, type ExecutorStart, type WorkKind } from './kill-campaign-executor.js';
import { LABEL, verdict, waitingWork, type Verdict } from './kill-campaign-verdict.js';

export { WORK_KINDS, type WorkKind } from './kill-campaign-executor.js';

/**
 * poll: a listing of issues or comments; executor: the executor of an answer,
 * a revision or a reply running; react: the `eyes` on a mention, just put;
 * post: an answer or a reply just posted, a revision just PATCHed; complete: a
 * moment after such a write; anytime: at a random time.
 */
export const KILL_POINTS = ['poll', 'executor', 'react', 'post', 'complete', 'anytime'] as const;
export type KillPoint = (typeof KILL_POINTS)[number];

export interface CampaignOptions {
  readonly seed: number;
  /** Rounds that end in a kill (a round whose point never comes is killed by its watchdog and counted apart). */
  readonly rounds: number;
  readonly repositories?: number;
  /** The CLI's entry point (see compileCli); default: src/ as it is now, compiled (builtMain). */
  readonly main?: string;
  /** Progress lines (bench). */
  readonly log?: (line: string) => void;
  /** Aborts the campaign (a test's timeout): every process it started is killed. */
  readonly signal?: AbortSignal;
  /** Told the pid of each CLI process the campaign starts (daemons and final runs). */
  readonly onProcess?: (pid: number) => void;
}

export interface CampaignResult extends Verdict {
  readonly rounds: number;
  readonly kills: Record<KillPoint | 'watchdog', number>;
  /** Kills that came while an answer, a revision or a reply was in the making (at executor, react, post and complete). */
  readonly killsDuring: Record<WorkKind, number>;
  /** What the campaign changed between rounds. */
  readonly changes: Changes;
  /** For each kill during an executor run: ms from the next daemon's start until that work's executor ran again. */
  readonly recoveryMs: readonly number[];
  /** The final clean run; the verdict is taken after it. */
  readonly final: CliResult;
  /** A second clean run, after the verdict. */
  readonly settled: CliResult;
  /**
   * Writes (comments, edits, reactions) of the second clean run (must be 0).
   * Nothing changes on GitHub during the final runs, so the first leaves nothing
   * to do (whatever it queues it drains in the same pass: its dispatcher claims
   * until the queue shows nothing); a write here is work the first left behind,
   * or our own comments asking for more.
   */
  readonly settledWrites: number;
  /**
   * Writes the daemons made on GitHub (comments, edits, reactions), the final
   * runs' included. The daemon spends at most 450 an hour on a credential,
   * every daemon and run together; a campaign that needs more measures that
   * budget's hold rather than recovery.
   */
  readonly writes: number;
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

/**
 * How long a round waits for its kill point before the watchdog kills the
 * daemon: a few seconds to start and poll, and more for each piece of work
 * waiting on GitHub, since the daemon writes at most once a second and the
 * point may come after the others' writes.
 */
const watchdogMs = (waiting: Record<WorkKind, number>) => Math.min(30_000, 5_000 + 1_500 * (waiting.answer + waiting.revise + waiting.reply));

/** Every CLI process the campaign starts, so that none outlives it, however it ends. */
class Processes {
  readonly #running = new Map<ChildProcess, Promise<CliResult>>();

  constructor(private readonly onStart: ((pid: number) => void) | undefined) {}

  start(args: readonly string[], cli: CliOptions): ReturnType<typeof startCli> {
    const started = startCli(args, cli);
    const forget = () => void this.#running.delete(started.child);
    this.#running.set(started.child, started.finished);
    started.finished.then(forget, forget);
    if (started.child.pid !== undefined) this.onStart?.(started.child.pid);
    return started;
  }

  /** SIGKILL to every one still running; synchronous, so that it also serves at process exit. */
  killAll = (): void => {
    for (const child of this.#running.keys()) child.kill('SIGKILL');
  };

  async stopAll(): Promise<void> {
    this.killAll();
    await Promise.allSettled([...this.#running.values()]);
  }
}

export async function runCampaign(options: CampaignOptions): Promise<CampaignResult> {
  const started = Date.now();
  const rand = random(options.seed);
  const repositories = Array.from({ length: options.repositories ?? 2 }, (_, i) => ({ owner: 'chaos', name: `repo-${i + 1}` }));
  const names = repositories.map((r) => `${r.owner}/${r.name}`);
  const dir = tempDir('autosolve-chaos-');
  const sim = await simulator(repositories.map((r) => ({ ...r, issues: [] })));
  const executors = new ExecutorListener();
  const processes = new Processes(options.onProcess);
  const ledger = new Ledger();
  const kills: Record<KillPoint | 'watchdog', number> = { poll: 0, executor: 0, react: 0, post: 0, complete: 0, anytime: 0, watchdog: 0 };
  const killsDuring: Record<WorkKind, number> = { answer: 0, revise: 0, reply: 0 };
  const recoveryMs: number[] = [];
  // A test's timeout, an exception or the end of the process: no daemon is left running.
  options.signal?.addEventListener('abort', processes.killAll);
  process.on('exit', processes.killAll);
  let writes = 0;
  const stopNoting = sim.onRequest((request) => {
    const listing = LISTING.exec(request.path);
    if (request.method === 'GET' && listing) ledger.synced.add(`${listing[1]}/${listing[2]}`);
    if (isWrite(request)) writes++;
  });
  try {
    await executors.start();
    const commands = executors.commands(dir.path);
    const timeout = '2s';
    const config = daemonConfig(dir.path, sim, names, {
      // Walked, as the kill points expect: at this interval `auto` would sweep the two repositories instead.
      github: {
        issues: { parseInterval: '200ms', requiredLabel: LABEL },
        fleet: { detection: 'walk' },
        // Time compressed like the poll interval: four pollers every 200 ms ask
        // for 20 requests a second, twice what 600 points a minute lets through,
        // and the answers would queue behind them (the simulator enforces no
        // secondary limit here). Writes keep their one-second gap.
        rateLimit: { minInterval: '0s', pointsPerMinute: 60_000 },
      },
      ai: {
        provider: 'command',
        command: { run: commands.answer },
        timeout,
        visibilityTimeout: '3s',
        maxAttempts: 50,
        retryDelay: '0s',
        // The campaign edits the same answered issues again and again within
        // minutes; past the cap a revision waits out the rest of 24 hours, so
        // the verdict (every edit reflected in the answer) would blame the daemon
        // for its own rate limit. The cap has its test (test/conversation.test.ts).
        maxRevisionsPerIssue: 1_000_000,
      },
      // Each kind of work to its own executor (the same script, told its kind), so a start says what it is for.
      executors: { reviser: { provider: 'command', run: commands.revise, timeout }, replier: { provider: 'command', run: commands.reply, timeout } },
      rules: [
        { when: { event: 'edited' }, then: { executor: 'reviser' } },
        { when: { event: 'mention' }, then: { executor: 'replier' } },
        { when: { event: 'opened' }, then: {} },
      ],
      scheduler: { setupBudget: '20s', shutdownGrace: '1s' },
    });
    const cli = { cwd: dir.path, ...(options.main === undefined ? {} : { main: options.main }) };
    const round = { sim, executors, processes, configFile: config.file, cli };
    let pendingRecovery: Work | undefined;
    for (let n = 1; n <= options.rounds; n++) {
      options.signal?.throwIfAborted();
      const changed = changeBetweenRounds(sim, repositories, rand, ledger);
      options.log?.(`round ${n}: ${changed.join('; ')}`);
      // Points that need work of a kind are only chosen when GitHub shows some waiting.
      const before = verdict(sim, repositories, ledger);
      const plan = planRound(rand, waitingWork(before));
      options.log?.(`round ${n}: waiting ${Object.entries(waitingWork(before)).map(([kind, count]) => `${kind} ${count}`).join(', ')}${before.findings.map((f) => `\n    ${f}`).join('')}`);
      const outcome = await killRound(round, plan, pendingRecovery);
      if (outcome.recoveredMs !== undefined) recoveryMs.push(outcome.recoveredMs);
      pendingRecovery = outcome.heldDuringKill;
      kills[outcome.watchdog ? 'watchdog' : plan.point]++;
      if (!outcome.watchdog && plan.kind !== undefined) killsDuring[plan.kind]++;
      const what = `${plan.point}${plan.kind === undefined ? '' : ` (${plan.kind})`}`;
      options.log?.(`round ${n}: kill at ${outcome.watchdog ? `watchdog (${what} never came); the daemon's last lines:\n${lastMessages(outcome.daemon.stdout)}` : what}`);
    }
    options.signal?.throwIfAborted();
    const final = await finalRun(round, pendingRecovery, recoveryMs);
    const after = verdict(sim, repositories, ledger);
    let settledWrites = 0;
    const stopCounting = sim.onRequest((request) => {
      if (isWrite(request)) settledWrites++;
    });
    const settled = await processes.start(['run', '--once', '--config', config.file], cli).finished;
    stopCounting();
    return { rounds: options.rounds, kills, killsDuring, changes: ledger.changes, recoveryMs, final, settled, settledWrites, writes, elapsedMs: Date.now() - started, ...after };
  } finally {
    stopNoting();
    await processes.stopAll();
    options.signal?.removeEventListener('abort', processes.killAll);
    process.off('exit', processes.killAll);
    await executors.close();
    await sim.close();
    dir.cleanup();
  }
}

/** The messages of the last few log lines, for a round that never reached its point. */
function lastMessages(stdout: string, count = 8): string {
  return stdout
    .trim()
    .split('\n')
    .slice(-count)
    .map((line) => {
      try {
        const { time, msg } = JSON.parse(line) as { time?: string; msg?: string };
        return `    ${time ?? ''} ${msg ?? line}`;
      } catch {
        return `    ${line}`;
      }
    })
    .join('\n');
}

/** A repository's listing of its issues or of its comments (not one issue's thread). */
const LISTING = /^\/repos\/([^/]+)\/([^/]+)\/issues(?:\/comments)?$/;

type Work = Pick<ExecutorStart, 'repository' | 'number' | 'kind'>;

interface KillPlan {
  readonly point: KillPoint;
  /** For executor, react, post and complete: the kind of work the kill waits for. */
  readonly kind?: WorkKind;
  /** The k-th occurrence of the point, so that rounds also get some work done. */
  readonly occurrence: number;
  /** poll: after this many listings. */
  readonly lists: number;
  /** executor, complete: how long after the point. */
  readonly delayMs: number;
  /** anytime: how long after the start. */
  readonly anytimeMs: number;
  /** How long before the watchdog kills the daemon instead (the point never came). */
  readonly watchdogMs: number;
}

/** The round's kill point; always the same number of draws, so that the stream of decisions stays the seed's. */
function planRound(rand: () => number, waiting: Record<WorkKind, number>): KillPlan {
  const [pointDraw, kindDraw, occurrenceDraw, listsDraw, delayDraw, anytimeDraw] = Array.from({ length: 6 }, rand) as [number, number, number, number, number, number];
  const kinds = WORK_KINDS.filter((kind) => waiting[kind] > 0);
  const points: readonly KillPoint[] = kinds.length === 0 ? ['poll', 'anytime'] : KILL_POINTS.filter((point) => point !== 'react' || waiting.reply > 0);
  const point = points[Math.floor(pointDraw * points.length)] as KillPoint;
  const kind = point === 'react' ? 'reply' : point === 'executor' || point === 'post' || point === 'complete' ? kinds[Math.floor(kindDraw * kinds.length)] : undefined;
  return {
    point,
    ...(kind === undefined ? {} : { kind }),
    occurrence: 1 + Math.floor(occurrenceDraw * Math.min(2, Math.max(1, kind === undefined ? 1 : waiting[kind]))),
    lists: 1 + Math.floor(listsDraw * 3),
    delayMs: Math.floor(delayDraw * 100),
    anytimeMs: 300 + Math.floor(anytimeDraw * 1_500),
    watchdogMs: watchdogMs(waiting),
  };
}

/** What a successful request wrote: a comment (an answer or a reply, by its marker), a revision (PATCH), a reaction. */
function writeOf(sim: Simulator, request: SimRequest): WorkKind | 'react' | undefined {
  if (request.status < 200 || request.status >= 300) return undefined;
  if (request.method === 'PATCH' && /^\/repos\/[^/]+\/[^/]+\/issues\/comments\/\d+$/.test(request.path)) return 'revise';
  if (request.method === 'POST' && /^\/repos\/[^/]+\/[^/]+\/issues\/comments\/\d+\/reactions$/.test(request.path)) return 'react';
  const posted = request.method === 'POST' ? /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/.exec(request.path) : null;
  if (posted === null) return undefined;
  // Told after the response: the newest comment of the thread is the one just posted.
  const newest = sim.comments(posted[1] as string, posted[2] as string, Number(posted[3])).reduce<{ id: number; body: string } | undefined>((a, c) => (a === undefined || c.id > a.id ? c : a), undefined);
  return readMarker(newest?.body ?? null)?.kind === 'reply' ? 'reply' : 'answer';
}

function isWrite(request: SimRequest): boolean {
  return request.method !== 'GET' && request.method !== 'HEAD' && request.path !== '/graphql';
}

interface RoundContext {
  readonly sim: Simulator;
  readonly executors: ExecutorListener;
  readonly processes: Processes;
  readonly configFile: string;
  readonly cli: CliOptions;
}

interface RoundOutcome {
  readonly watchdog: boolean;
  /** What the killed daemon said. */
  readonly daemon: CliResult;
  /** The work whose executor was running when the daemon was killed. */
  readonly heldDuringKill?: Work;
  readonly recoveredMs?: number;
}

const sameWork = (a: Work, b: Work) => a.repository === b.repository && a.number === b.number && a.kind === b.kind;

/** Starts the daemon, waits for the kill point (or the watchdog), kills it with SIGKILL; whatever fails, the daemon is killed. */
async function killRound(ctx: RoundContext, plan: KillPlan, recovering: Work | undefined): Promise<RoundOutcome> {
  const { sim, executors } = ctx;
  const spawnedAt = Date.now();
  const daemon = ctx.processes.start(['run', '--config', ctx.configFile], ctx.cli);
  let running: Work | undefined;
  let recoveredMs: number | undefined;
  const cleanups: Array<() => void> = [];
  let hit: boolean;
  try {
    hit = await new Promise<boolean>((resolve) => {
      const after = (ms: number) => {
        const timer = setTimeout(() => resolve(true), ms);
        cleanups.push(() => clearTimeout(timer));
      };
      const watchdog = setTimeout(() => resolve(false), plan.watchdogMs);
      cleanups.push(() => clearTimeout(watchdog));
      let seenLists = 0;
      let seenRuns = 0;
      let seenWrites = 0;
      cleanups.push(
        executors.on((start) => {
          if (start.daemonPid !== daemon.child.pid) return;
          running = start;
          if (recovering && recoveredMs === undefined && sameWork(start, recovering)) recoveredMs = start.at - spawnedAt;
          if (plan.point === 'executor' && start.kind === plan.kind && ++seenRuns === plan.occurrence) after(plan.delayMs);
        }),
        sim.onRequest((request) => {
          if (plan.point === 'poll' && request.method === 'GET' && LISTING.test(request.path) && ++seenLists >= plan.lists) resolve(true);
          if (plan.point !== 'react' && plan.point !== 'post' && plan.point !== 'complete') return;
          const write = writeOf(sim, request);
          if (write === undefined || write !== (plan.point === 'react' ? 'react' : plan.kind) || ++seenWrites !== plan.occurrence) return;
          if (plan.point === 'complete') after(plan.delayMs);
          else resolve(true);
        }),
      );
      if (plan.point === 'anytime') after(plan.anytimeMs);
      void daemon.finished.then(() => resolve(false));
    });
  } finally {
    for (const cleanup of cleanups) cleanup();
    daemon.child.kill('SIGKILL');
  }
  const result = await daemon.finished;
  executors.reap();
  if (result.signal !== 'SIGKILL') {
    throw new Error(`the daemon exited by itself (code ${result.code}) instead of being killed at ${plan.point}:\n${result.stderr.slice(-2_000)}\n${result.stdout.slice(-2_000)}`);
  }
  return { watchdog: !hit, daemon: result, ...(running ? { heldDuringKill: running } : {}), ...(recoveredMs === undefined ? {} : { recoveredMs }) };
}

/** The final clean `run --once`; notes how soon it ran again the work the last kill interrupted. */
async function finalRun(ctx: RoundContext, recovering: Work | undefined, recoveryMs: number[]): Promise<CliResult> {
  const startedAt = Date.now();
  const run = ctx.processes.start(['run', '--once', '--config', ctx.configFile], ctx.cli);
  let recovered: number | undefined;
  const stopWatching = ctx.executors.on((start) => {
    if (start.daemonPid === run.child.pid && recovering && recovered === undefined && sameWork(start, recovering)) recovered = start.at - startedAt;
  });
  try {
    return await run.finished;
  } finally {
    stopWatching();
    if (recovered !== undefined) recoveryMs.push(recovered);
  }
}
