/**
 * One case of `npm run bench:fleet`: a fleet of `size` repositories on the
 * simulator with GitHub's limits and realistic latency, the compiled daemon as
 * its own process against it, and the figures measured from outside: setup,
 * first sync, the idle cost, the latency from an issue update to its queue
 * job, limit breaches, and the daemon's peak resident memory.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import BetterSqlite3 from 'better-sqlite3';
import { stringify } from 'yaml';
import { startSimulator, type SimBreachKind, type Simulator } from '../src/simulator/index.js';
import { startCli, tempDir, writeFile } from '../test/support/cli.js';

const TOKEN = 'bench-fleet-token-0123456789';
const OWNER = 'fleet';
const ISSUES_PER_REPOSITORY = 2;
/** How long the idle cost is measured after the first sync. */
export const IDLE_WINDOW_MS = 120_000;
/** Updates are spread at random over this window. */
export const UPDATE_SPREAD_MS = 120_000;
/** An update whose job is not queued this long after the last update counts as never detected. */
const DRAIN_DEADLINE_MS = 240_000;
const SETUP_DEADLINE_MS = 180_000;
const FIRST_SYNC_DEADLINE_MS = 600_000;
const HOUR_MS = 3_600_000;
const PRIMARY_PER_HOUR = 5_000;

/** GitHub's documented limits for a token (primary: 5,000 an hour each for REST and GraphQL). */
const GITHUB_LIMITS = {
  rateLimit: PRIMARY_PER_HOUR,
  graphqlRateLimit: PRIMARY_PER_HOUR,
  secondaryLimits: { restPointsPerMinute: 900, graphqlPointsPerMinute: 2_000, maxConcurrent: 100, cpuMsPerMinute: 90_000, graphqlCpuMsPerMinute: 60_000 },
  latency: { restMs: 120, graphqlMs: 200, graphqlPerRepositoryMs: 10 },
} as const;

export interface CaseSpec {
  readonly size: number;
  /** `discovered`: github.organizations (the stream path); `configured`: github.repositories (the walk path, today's behaviour). */
  readonly source: 'discovered' | 'configured';
  readonly updates: number;
  /** The compiled CLI (compileCli). */
  readonly main: string;
  readonly log: (line: string) => void;
}

export interface CaseResult {
  readonly spec: Omit<CaseSpec, 'main' | 'log'>;
  readonly issues: number;
  /** Daemon start to its "setup passed" line. */
  readonly setupMs: number;
  /** Daemon start until every generated issue is stored. */
  readonly firstSyncMs: number;
  readonly paths: string;
  readonly idle: IdleCost;
  /** Update → queue job, ms, sorted; updates never queued are counted apart. */
  readonly latenciesMs: readonly number[];
  readonly undetected: number;
  readonly breaches: Partial<Record<SimBreachKind, number>>;
  /** VmHWM of the daemon at the end. */
  readonly peakRssMb: number;
  /** Warnings and errors the daemon logged (first few). */
  readonly problems: readonly string[];
  readonly problemCount: number;
  readonly elapsedMs: number;
}

export interface IdleCost {
  readonly windowMs: number;
  /** Per hour, extrapolated from the window, plus discovery's listing (hourly, counted at setup). */
  readonly restRequests: number;
  readonly restPrimary: number;
  readonly graphqlRequests: number;
  readonly graphqlPoints: number;
  readonly discoveryPages: number;
}

function repositoryName(size: number, n: number): string {
  return `repo-${String(n).padStart(String(size).length, '0')}`;
}

/** Polls `probe` every `everyMs` until it gives a value, or fails naming `what` after the deadline. */
async function waitFor<T>(what: string, probe: () => T | undefined, deadlineMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${deadlineMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** A read-only look at the daemon's database; undefined while it does not exist yet or is busy. */
function look<T>(database: string, query: (db: BetterSqlite3.Database) => T): T | undefined {
  let db: BetterSqlite3.Database | undefined;
  try {
    db = new BetterSqlite3(database, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 2000');
    return query(db);
  } catch {
    return undefined;
  } finally {
    db?.close();
  }
}

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

/** A small deterministic PRNG (mulberry32), so a run picks the same issues each time. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function configFor(spec: CaseSpec, sim: Simulator, database: string): Record<string, unknown> {
  const names = Array.from({ length: spec.size }, (_, i) => ({ owner: OWNER, name: repositoryName(spec.size, i + 1) }));
  return {
    log: { level: 'info', terminal: false },
    database: { sqlitePath: database },
    github: {
      token: TOKEN,
      baseUrl: sim.url,
      // The defaults otherwise: parseInterval 1m, reconcileInterval 30m, discoveryInterval 1h, the governor's budgets.
      ...(spec.source === 'discovered' ? { organizations: [OWNER] } : { repositories: names }),
      issues: { requiredLabel: 'autosolve' },
    },
    ai: { provider: 'demo', dryRun: true },
  };
}

export async function runCase(spec: CaseSpec): Promise<CaseResult> {
  const started = Date.now();
  const dir = tempDir('autosolve-bench-fleet-');
  const issues = spec.size * ISSUES_PER_REPOSITORY;
  const sim = await startSimulator({
    tokens: [TOKEN],
    scenario: { repositories: [], generate: [{ owner: OWNER, count: spec.size, issuesPerRepository: ISSUES_PER_REPOSITORY }] },
    ...GITHUB_LIMITS,
  });
  let daemon: ReturnType<typeof startCli> | undefined;
  try {
    const database = join(dir.path, 'autosolve.db');
    const file = writeFile(dir.path, 'config.yml', stringify(configFor(spec, sim, database)));
    const lines: string[] = [];
    const problems: string[] = [];
    let problemCount = 0;
    let pending = '';
    const daemonStart = Date.now();
    daemon = startCli(['run', '--config', file], { cwd: dir.path, main: spec.main });
    daemon.child.stdout?.on('data', (chunk: string) => {
      pending += chunk;
      const parts = pending.split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) {
        if (line.length === 0) continue;
        lines.push(line);
        let level = 30;
        try {
          level = (JSON.parse(line) as { level?: number }).level ?? 30;
        } catch {
          level = 40; // not a log line: worth showing
        }
        if (level >= 40) {
          problemCount++;
          if (problems.length < 5) problems.push(line.slice(0, 400));
        }
      }
    });
    const exited = daemon.finished.then((result) => {
      throw new Error(`the daemon exited (${result.code ?? result.signal}):\n${result.stderr.slice(-2_000)}${lines.slice(-5).join('\n')}`);
    });
    exited.catch(() => undefined);
    const alive = <T>(promise: Promise<T>): Promise<T> => Promise.race([promise, exited]);

    const setupLine = await alive(waitFor('setup passed', () => lines.find((line) => line.includes('"setup passed')), SETUP_DEADLINE_MS, 50));
    const setupMs = Date.now() - daemonStart;
    const paths = JSON.stringify((JSON.parse(setupLine) as { paths?: unknown }).paths ?? {});
    spec.log(`setup passed after ${(setupMs / 1000).toFixed(1)} s (${paths})`);
    const stored = (): number | undefined => look(database, (db) => (db.prepare('SELECT COUNT(*) AS n FROM issues').get() as { n: number }).n);
    await alive(waitFor(`${issues} issues stored`, () => ((stored() ?? 0) >= issues ? true : undefined), FIRST_SYNC_DEADLINE_MS, 200));
    const firstSyncMs = Date.now() - daemonStart;
    spec.log(`first sync done after ${(firstSyncMs / 1000).toFixed(1)} s`);
    const discoveryPages = sim.requests.filter((r) => r.method === 'GET' && r.path === `/orgs/${OWNER}/repos`).length;

    // Idle: nothing changes on GitHub for a while; everything the daemon asks for is its idle cost.
    const mark = sim.requests.length;
    const idleStart = Date.now();
    await alive(sleep(IDLE_WINDOW_MS));
    const windowMs = Date.now() - idleStart;
    const idle = idleCost(sim, mark, windowMs, spec.source === 'discovered' ? discoveryPages : 0);
    spec.log(`idle window: ${(windowMs / 1000).toFixed(0)} s, ${sim.requests.length - mark} requests`);

    const { latenciesMs, undetected } = await alive(updates(spec, sim, database));
    const breaches: Partial<Record<SimBreachKind, number>> = {};
    for (const breach of sim.breaches()) breaches[breach.kind] = (breaches[breach.kind] ?? 0) + 1;
    const rss = peakRssMb(daemon.child.pid ?? 0);
    return {
      spec: { size: spec.size, source: spec.source, updates: spec.updates },
      issues,
      setupMs,
      firstSyncMs,
      paths,
      idle,
      latenciesMs,
      undetected,
      breaches,
      peakRssMb: rss,
      problems,
      problemCount,
      elapsedMs: Date.now() - started,
    };
  } finally {
    if (daemon) await stop(daemon);
    await sim.close();
    dir.cleanup();
  }
}

function idleCost(sim: Simulator, mark: number, windowMs: number, discoveryPages: number): IdleCost {
  const window = sim.requests.slice(mark);
  const perHour = (count: number): number => (count * HOUR_MS) / windowMs;
  const graphql = window.filter((r) => r.method === 'POST' && r.path === '/graphql');
  const rest = window.filter((r) => !(r.method === 'POST' && r.path === '/graphql'));
  const sum = (requests: typeof window): number => requests.reduce((total, r) => total + r.rateLimitCost, 0);
  // Discovery lists the organisation once an hour (discoveryInterval 1h): the pages setup took, each a primary request.
  return {
    windowMs,
    restRequests: perHour(rest.length) + discoveryPages,
    restPrimary: perHour(sum(rest)) + discoveryPages,
    graphqlRequests: perHour(graphql.length),
    graphqlPoints: perHour(sum(graphql)),
    discoveryPages,
  };
}

/** Updates distinct random issues at random moments over UPDATE_SPREAD_MS; the time to each one's queue job. */
async function updates(spec: CaseSpec, sim: Simulator, database: string): Promise<{ latenciesMs: number[]; undetected: number }> {
  const next = random(spec.size);
  const chosen = new Set<string>();
  while (chosen.size < Math.min(spec.updates, spec.size * ISSUES_PER_REPOSITORY)) {
    chosen.add(`${1 + Math.floor(next() * spec.size)}#${1 + Math.floor(next() * ISSUES_PER_REPOSITORY)}`);
  }
  const plan = [...chosen].map((key) => ({ key, at: Math.floor(next() * UPDATE_SPREAD_MS) })).sort((a, b) => a.at - b.at);
  const updatedAt = new Map<number, number>();
  const begin = Date.now();
  for (const { key, at } of plan) {
    const wait = begin + at - Date.now();
    if (wait > 0) await sleep(wait);
    const [repository, number] = key.split('#').map(Number) as [number, number];
    const when = Date.now();
    const issue = sim.updateIssue(OWNER, repositoryName(spec.size, repository), number, { labels: ['autosolve'] });
    updatedAt.set(issue.id, when);
  }
  spec.log(`${plan.length} updates made over ${((Date.now() - begin) / 1000).toFixed(0)} s; waiting for their queue jobs`);
  const queued = new Map<number, number>();
  const deadline = Date.now() + DRAIN_DEADLINE_MS;
  while (queued.size < updatedAt.size && Date.now() < deadline) {
    const rows = look(database, (db) => db.prepare('SELECT issue_github_id AS id, MIN(created_at) AS at FROM jobs GROUP BY issue_github_id').all() as Array<{ id: number; at: string }>) ?? [];
    for (const row of rows) if (updatedAt.has(Number(row.id))) queued.set(Number(row.id), Date.parse(row.at));
    if (queued.size < updatedAt.size) await sleep(1_000);
  }
  const latenciesMs = [...queued].map(([id, at]) => at - (updatedAt.get(id) ?? at)).sort((a, b) => a - b);
  return { latenciesMs, undetected: updatedAt.size - queued.size };
}

/** SIGTERM, a grace period, then SIGKILL: the daemon never outlives the bench. */
async function stop(daemon: ReturnType<typeof startCli>): Promise<void> {
  const { child } = daemon;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const ended = await Promise.race([daemon.finished.then(() => true, () => true), sleep(20_000).then(() => false)]);
  if (!ended) {
    child.kill('SIGKILL');
    await daemon.finished.catch(() => undefined);
  }
}
