/** A simulator and a config file pointing the daemon at it, for CLI tests. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { stringify } from 'yaml';
import { startSimulator, type SimIssueInput, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { runCli, writeFile } from './cli.js';

export const TOKEN = 'sim-token-for-tests-0123456789';

export async function simulator(
  repositories: Array<{ owner: string; name: string; issues?: SimIssueInput[] }>,
  options: SimulatorOptions = {},
): Promise<Simulator> {
  return startSimulator({ tokens: [TOKEN], scenario: { repositories }, ...options });
}

/** `count` issues with distinct, increasing update times in the past. */
export function backlog(count: number, options: { labels?: string[]; start?: number } = {}): SimIssueInput[] {
  const start = options.start ?? Date.UTC(2025, 0, 1);
  return Array.from({ length: count }, (_, i) => {
    const at = new Date(start + i * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    return { title: `Issue ${i + 1}`, body: `Body ${i + 1}`, labels: options.labels ?? [], createdAt: at, updatedAt: at };
  });
}

export interface DaemonConfig {
  readonly file: string;
  readonly database: string;
}

/** Writes config.yml in `dir` for the simulator, merged with `extra` (one level deep per section). */
export function daemonConfig(dir: string, sim: Simulator, repositories: string[], given: Record<string, Record<string, unknown> | readonly unknown[]> = {}): DaemonConfig {
  const database = join(dir, 'autosolve.db');
  // Sections are merged one level deep; a list (rules:) is taken as it is.
  const extra = given as Record<string, Record<string, unknown>>;
  const config = {
    log: { debug: false, ...extra.log },
    database: { sqlitePath: database },
    github: {
      token: TOKEN,
      baseUrl: sim.url,
      repositories: repositories.map((full) => {
        const [owner, name] = full.split('/');
        return { owner, name };
      }),
      httpClientTimeout: '10s',
      rateLimit: { minInterval: '0s' },
      issues: { parseInterval: '1m' },
      ...extra.github,
    },
    ai: { provider: 'demo', ...extra.ai },
    scheduler: { setupBudget: '30s', shutdownGrace: '10s', ...extra.scheduler },
    ...Object.fromEntries(Object.entries(extra).filter(([key]) => !['log', 'github', 'ai', 'scheduler'].includes(key))),
  };
  return { file: writeFile(dir, 'config.yml', stringify(config)), database };
}

/** Read-only look at a database the daemon left. */
export function inspectDatabase<T>(path: string, look: (db: BetterSqlite3.Database) => T): T {
  const db = new BetterSqlite3(path, { readonly: true });
  try {
    return look(db);
  } finally {
    db.close();
  }
}

export function listRequests(sim: Simulator, repository?: string) {
  return sim.requests.filter((r) => r.method === 'GET' && /^\/repos\/[^/]+\/[^/]+\/issues$/.test(r.path) && (!repository || r.path === `/repos/${repository}/issues`));
}

/** Queue jobs with their issue numbers, by issue number. */
export function jobsOf(database: string) {
  return inspectDatabase(database, (db) =>
    db.prepare('SELECT j.id, j.state, j.attempts, j.releases, j.outcome, j.last_error, i.number FROM jobs j JOIN issues i ON i.github_id = j.issue_github_id JOIN repositories r ON r.id = j.repository_id ORDER BY r.owner, r.name, i.number, j.id').all() as Array<{
      id: number; state: string; attempts: number; releases: number; outcome: string | null; last_error: string | null; number: number;
    }>,
  );
}

export interface StatusJson {
  readonly dispatcher: { readonly paused: boolean; readonly reason?: string; readonly message?: string; readonly since?: string };
}

/** `autosolve status --json`, which must succeed. */
export async function statusJson(file: string, cwd: string): Promise<StatusJson> {
  const result = await runCli(['status', '--json', '--config', file], { cwd });
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as StatusJson;
}

/** Polls `probe` every 100 ms until it gives a value, or fails naming `what` after the deadline. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, deadlineMs = 60_000): Promise<T> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
