/**
 * `npm run bench:github`: what polling costs against GitHub's budget, and
 * whether the client + throttle can be the bottleneck.
 *
 * 1. 100 repositories, each polled twice with nothing changed in between (the
 *    second time with the stored ETags): rate-limit units used by the second
 *    poll (target 0) and requests per repository per poll (target 1).
 * 2. Requests per second through client + throttle with minIntervalMs 0 and
 *    maxConcurrent 8 against the local simulator (target >= 500/s).
 */
import { GitHubClient } from '../src/infra/github/index.js';
import { type Scenario, startSimulator } from '../src/simulator/index.js';

const TOKEN = 'bench-token';
const REPOSITORIES = 100;
const ISSUES_PER_REPOSITORY = 20;
const THROUGHPUT_REQUESTS = 2_000;
const CONCURRENCY = 8;

function scenario(): Scenario {
  const base = Date.UTC(2026, 0, 1);
  return {
    tokens: [TOKEN],
    repositories: Array.from({ length: REPOSITORIES }, (_, r) => ({
      owner: 'bench',
      name: `repo-${r}`,
      issues: Array.from({ length: ISSUES_PER_REPOSITORY }, (_, i) => ({
        title: `issue ${i + 1}`,
        body: 'Something is broken.',
        labels: ['bug'],
        createdAt: new Date(base + (r * ISSUES_PER_REPOSITORY + i) * 60_000).toISOString(),
      })),
    })),
  };
}

interface Row {
  figure: string;
  value: string;
  target: string;
  met: boolean;
}

function printTable(rows: Row[]): void {
  const header = { figure: 'figure', value: 'value', target: 'target', met: 'ok' };
  const cells = [header, ...rows.map((row) => ({ ...row, met: row.met ? 'yes' : 'NO' }))];
  const width = (key: keyof typeof header): number => Math.max(...cells.map((cell) => String(cell[key]).length));
  const line = (cell: (typeof cells)[number]): string =>
    `${cell.figure.padEnd(width('figure'))}  ${cell.value.padStart(width('value'))}  ${cell.target.padEnd(width('target'))}  ${cell.met}`;
  console.log(line(header));
  console.log('-'.repeat(line(header).length));
  for (const cell of cells.slice(1)) console.log(line(cell));
}

async function main(): Promise<void> {
  const simulator = await startSimulator({ tokens: [TOKEN], rateLimit: 1_000_000, scenario: scenario() });
  const signal = new AbortController().signal;
  try {
    const client = new GitHubClient({
      baseUrl: simulator.url,
      token: TOKEN,
      timeoutMs: 10_000,
      userAgent: 'autosolve/bench',
      throttle: { minIntervalMs: 0, maxConcurrent: CONCURRENCY },
    });
    const repositories = Array.from({ length: REPOSITORIES }, (_, r) => ({ owner: 'bench', name: `repo-${r}` }));

    // Poll 1: nothing stored yet.
    const etags = new Map<string, string | null>();
    for (const repo of repositories) {
      const result = await client.listIssues(repo, { since: null, page: 1, etag: null }, signal);
      etags.set(repo.name, result.notModified ? null : result.etag);
    }
    const firstPollRequests = simulator.requests.length;

    // Poll 2: the same requests with the stored ETags, nothing changed.
    simulator.clearRequests();
    const usedBefore = simulator.rateLimitOf(TOKEN).used;
    let notModified = 0;
    for (const repo of repositories) {
      const result = await client.listIssues(repo, { since: null, page: 1, etag: etags.get(repo.name) ?? null }, signal);
      if (result.notModified) notModified++;
    }
    const secondPollUnits = simulator.rateLimitOf(TOKEN).used - usedBefore;
    const secondPollRequests = simulator.requests.length;

    // Throughput: the throttle with no pacing must not be what limits us.
    simulator.clearRequests();
    const target = repositories[0] ?? { owner: 'bench', name: 'repo-0' };
    await client.getRepository(target, signal); // warm the connection pool
    const startedAt = performance.now();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < THROUGHPUT_REQUESTS) {
        next++;
        await client.getRepository(target, signal);
      }
    };
    // More callers than slots, so the throttle's concurrency cap is what is measured.
    await Promise.all(Array.from({ length: CONCURRENCY * 4 }, worker));
    const seconds = (performance.now() - startedAt) / 1000;
    const perSecond = THROUGHPUT_REQUESTS / seconds;

    console.log(`GitHub client bench: ${REPOSITORIES} repositories x ${ISSUES_PER_REPOSITORY} issues, simulator at ${simulator.url}\n`);
    printTable([
      {
        figure: 'poll 1 requests per repository',
        value: (firstPollRequests / REPOSITORIES).toFixed(2),
        target: '1',
        met: firstPollRequests === REPOSITORIES,
      },
      { figure: 'poll 2 rate-limit units used', value: String(secondPollUnits), target: '0', met: secondPollUnits === 0 },
      {
        figure: 'poll 2 requests per repository',
        value: (secondPollRequests / REPOSITORIES).toFixed(2),
        target: '1',
        met: secondPollRequests === REPOSITORIES,
      },
      { figure: 'poll 2 answered 304', value: `${notModified}/${REPOSITORIES}`, target: `${REPOSITORIES}/${REPOSITORIES}`, met: notModified === REPOSITORIES },
      {
        figure: `requests/s (minInterval 0, maxConcurrent ${CONCURRENCY})`,
        value: perSecond.toFixed(0),
        target: '>= 500',
        met: perSecond >= 500,
      },
    ]);
    const stats = client.stats();
    console.log(`\nthrottle stats: ${stats.requests} requests, ${stats.notModified} not modified, ${stats.waits} waits`);
  } finally {
    await simulator.close();
  }
}

await main();
