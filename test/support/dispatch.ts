/**
 * The real dispatcher against a real SQLite file and the GitHub simulator,
 * in-process, for tests of what happens between claiming and posting.
 */
import { hostname } from 'node:os';
import type { Executor, ExecutorInput, ExecutorOutput, Log } from '../../src/domain/ports.js';
import { DEFAULT_PROMPT } from '../../src/domain/prompt.js';
import { dispatcher } from '../../src/domain/tasks/global/dispatcher.js';
import { ANSWER_JOB } from '../../src/domain/eligibility.js';
import { GitHubClient } from '../../src/infra/github/index.js';
import { SqlIssueCatalog, SqlIssueSyncStore, SqlJobQueue, SqlRepositoryStore, type Database } from '../../src/infra/store/index.js';
import type { SimIssue, Simulator } from '../../src/simulator/index.js';
import type { Issue } from '../../src/domain/entities.js';
import { TOKEN } from './daemon.js';

export interface LogLine {
  readonly level: string;
  readonly message: string;
  readonly fields: object;
}

/** A Log that keeps every line. */
export function capturingLog(lines: LogLine[] = []): Log & { lines: LogLine[] } {
  const at =
    (level: string) =>
    (fields: object, message: string): void => {
      lines.push({ level, message, fields });
    };
  const log = { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => log };
  return log;
}

/** An executor whose run is the test's function. */
export function executor(run: (input: ExecutorInput, signal: AbortSignal) => Promise<string>): Executor {
  return {
    description: 'test executor',
    async run(input, signal): Promise<ExecutorOutput> {
      return { text: await run(input, signal), model: 'test-model' };
    },
  };
}

/** Stores the simulator's issues of acme/api and queues one answer job per issue (or per listed issue number). */
export async function seedQueue(database: Database, sim: Simulator, only?: readonly number[]): Promise<void> {
  const repositoryId = await new SqlRepositoryStore(database.db).record(
    { owner: 'acme', name: 'api' },
    { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' },
  );
  const issues = sim.issues('acme', 'api').map(asSynced);
  await new SqlIssueSyncStore(database.db, { maxAttempts: 3 }).save(repositoryId, issues, { since: null, page: 1, etag: null }, issues.filter((i) => !only || only.includes(i.number)).map((i) => ({ type: ANSWER_JOB, issueGithubId: i.githubId })));
}

/** A simulator issue of acme/api as an issue sync stores it. */
export function asSynced(i: SimIssue): Issue {
  return {
    githubId: i.id,
    number: i.number,
    title: i.title,
    body: i.body,
    state: i.state,
    isPullRequest: i.pullRequest,
    labels: i.labels,
    author: i.user,
    htmlUrl: `https://github.com/acme/api/issues/${i.number}`,
    commentsCount: i.comments,
    createdAt: i.createdAt,
    updatedAt: i.updatedAt,
  };
}

export function queueOf(database: Database, id = 'this-instance'): SqlJobQueue {
  return new SqlJobQueue(database.db, { owner: { id, host: hostname(), pid: process.pid } });
}

export function client(sim: Simulator, options: { writeMinIntervalMs?: number } = {}): GitHubClient {
  return new GitHubClient({
    baseUrl: sim.url,
    token: TOKEN,
    timeoutMs: 10_000,
    userAgent: 'autosolve-test',
    throttle: { minIntervalMs: 0, maxConcurrent: 4, writeMinIntervalMs: options.writeMinIntervalMs ?? 0 },
  });
}

/** The dispatcher spec, wired like the app wires it. */
export function dispatcherFor(
  database: Database,
  sim: Simulator,
  options: { executor: Executor; leaseMs: number; log: Log; queue?: SqlJobQueue; github?: GitHubClient; requiredLabel?: string; concurrency?: number },
) {
  return dispatcher({
    queue: options.queue ?? queueOf(database),
    catalog: new SqlIssueCatalog(database.db),
    github: options.github ?? client(sim),
    executor: options.executor,
    interval: 1000,
    concurrency: options.concurrency ?? 1,
    leaseMs: options.leaseMs,
    requiredLabel: options.requiredLabel ?? 'autosolve',
    secrets: [TOKEN],
    promptTemplate: DEFAULT_PROMPT,
    maxBodyChars: 8000,
    dryRun: false,
    log: options.log,
  });
}

export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
