/** A simulator and a config file pointing the daemon at it, for CLI tests. */
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { stringify } from 'yaml';
import { startSimulator, type SimIssueInput, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js';
import { writeFile } from './cli.js';

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
export function daemonConfig(dir: string, sim: Simulator, repositories: string[], extra: Record<string, Record<string, unknown>> = {}): DaemonConfig {
  const database = join(dir, 'autosolve.db');
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
