/**
 * `npm run bench:github`: what polling costs against GitHub's budget, and
 * whether the client + throttle can be the bottleneck.
 *
 * 1. 100 repositories, each polled twice with nothing changed in between (the
 *    second time with the stored ETags): rate-limit units used by the second
 *    poll (target 0) and requests per repository per poll (target 1).
 * 2. Comment polling on the same 100 repositories (each with a conversation):
 *    every repository's comments listed as the comment poller lists them
 *    (`GET /repos/{o}/{r}/issues/comments?sort=updated&direction=asc&since=…`),
 *    then again with the stored ETag and the same `since`: rate-limit units
 *    used by the second listing (target 0) and requests per repository per
 *    poll (target 1); then a third time after one new comment in one
 *    repository: exactly that repository's listing answers 200, the others 304.
 * 3. Requests per second through client + throttle with minIntervalMs 0 and
 *    maxConcurrent 8 against the local simulator (target >= 500/s).
 *
 * Each figure next to its target; MISSED where one is missed (exit code 1).
 */
import type { RepositoryRef } from '../src/domain/entities.js';
import { GitHubClient } from '../src/infra/github/index.js';
import { type Scenario, type SimCommentInput, type Simulator, startSimulator } from '../src/simulator/index.js';

const TOKEN = 'bench-token';
const REPOSITORIES = 100;
const ISSUES_PER_REPOSITORY = 20;
const THROUGHPUT_REQUESTS = 2_000;
const CONCURRENCY = 8;
/** Where the third comment listing finds the one new comment. */
const CHANGED_REPOSITORY = 'repo-42';

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A conversation on each repository's first issue: a member asking autosolve, a passer-by, a bot. */
function conversation(at: number): SimCommentInput[] {
  return [
    { body: '@autosolve could you suggest a fix?', user: 'maintainer', authorAssociation: 'MEMBER', createdAt: iso(at) },
    { body: 'Same here on 2.3.1.', user: 'passer-by', authorAssociation: 'NONE', createdAt: iso(at + 60_000) },
    { body: 'This issue is stale and will be closed in 7 days.', user: 'stale', bot: true, createdAt: iso(at + 120_000) },
  ];
}

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
        ...(i === 0 ? { comments: conversation(base + (REPOSITORIES * ISSUES_PER_REPOSITORY + r) * 60_000) } : {}),
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
  const cells = [header, ...rows.map((row) => ({ ...row, met: row.met ? 'yes' : 'MISSED' }))];
  const width = (key: keyof typeof header): number => Math.max(...cells.map((cell) => String(cell[key]).length));
  const line = (cell: (typeof cells)[number]): string =>
    `${cell.figure.padEnd(width('figure'))}  ${cell.value.padStart(width('value'))}  ${cell.target.padEnd(width('target'))}  ${cell.met}`;
  console.log(line(header));
  console.log('-'.repeat(line(header).length));
  for (const cell of cells.slice(1)) console.log(line(cell));
}

/**
 * The comment poller's request, three times over every repository: nothing stored, the stored ETag with
 * nothing changed, and the stored ETag after one new comment in CHANGED_REPOSITORY.
 */
async function commentPolling(simulator: Simulator, client: GitHubClient, repositories: RepositoryRef[], since: string): Promise<Row[]> {
  const signal = new AbortController().signal;
  const etags = new Map<string, string | null>();
  /** One listing of every repository; the repositories whose listing answered 200 (not 304). */
  const listAll = async (): Promise<{ changed: string[]; units: number; requests: number; comments: number }> => {
    simulator.clearRequests();
    const usedBefore = simulator.rateLimitOf(TOKEN).used;
    const changed: string[] = [];
    let comments = 0;
    for (const repo of repositories) {
      const result = await client.listRepositoryComments(repo, { since, page: 1, etag: etags.get(repo.name) ?? null }, signal);
      if (result.notModified) continue;
      changed.push(repo.name);
      comments += result.comments.length;
      etags.set(repo.name, result.etag);
    }
    return { changed, units: simulator.rateLimitOf(TOKEN).used - usedBefore, requests: simulator.requests.length, comments };
  };

  const first = await listAll();
  const second = await listAll();
  simulator.addComment('bench', CHANGED_REPOSITORY, 1, { body: 'Still broken after the upgrade.', user: 'passer-by' });
  const third = await listAll();

  const perRepository = (requests: number): string => (requests / REPOSITORIES).toFixed(2);
  const namesOf = (names: string[]): string =>
    names.length === 0 ? 'none' : names.length <= 3 ? names.join(', ') : `${names.length}: ${names.slice(0, 3).join(', ')}, ...`;
  const onlyChanged = third.changed.length === 1 && third.changed[0] === CHANGED_REPOSITORY;
  return [
    {
      figure: 'comments listing 1 requests per repository',
      value: perRepository(first.requests),
      target: '1',
      met: first.requests === REPOSITORIES,
    },
    {
      figure: 'comments listing 1 comments per repository',
      value: (first.comments / REPOSITORIES).toFixed(2),
      target: '3',
      met: first.comments === 3 * REPOSITORIES,
    },
    { figure: 'comments listing 2 rate-limit units used', value: String(second.units), target: '0', met: second.units === 0 },
    {
      figure: 'comments listing 2 requests per repository',
      value: perRepository(second.requests),
      target: '1',
      met: second.requests === REPOSITORIES,
    },
    {
      figure: 'comments listing 2 answered 304',
      value: `${REPOSITORIES - second.changed.length}/${REPOSITORIES}`,
      target: `${REPOSITORIES}/${REPOSITORIES}`,
      met: second.changed.length === 0,
    },
    {
      figure: 'comments listing 3 (one new comment) answered 200',
      value: namesOf(third.changed),
      target: `${CHANGED_REPOSITORY} only`,
      met: onlyChanged,
    },
    {
      figure: 'comments listing 3 comments in that 200',
      value: String(third.comments),
      target: '4 (3 + the new one)',
      met: third.comments === 4,
    },
    {
      figure: 'comments listing 3 answered 304',
      value: `${REPOSITORIES - third.changed.length}/${REPOSITORIES}`,
      target: `${REPOSITORIES - 1}/${REPOSITORIES}`,
      met: third.changed.length === 1,
    },
    { figure: 'comments listing 3 rate-limit units used', value: String(third.units), target: '1', met: third.units === 1 },
    {
      figure: 'comments listing 3 requests per repository',
      value: perRepository(third.requests),
      target: '1',
      met: third.requests === REPOSITORIES,
    },
  ];
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

    // Comment polling: the comment poller's one conditional listing per repository per pass.
    const commentRows = await commentPolling(simulator, client, repositories, iso(Date.UTC(2026, 0, 1)));

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

    console.log(
      `GitHub client bench: ${REPOSITORIES} repositories x ${ISSUES_PER_REPOSITORY} issues (3 comments each), simulator at ${simulator.url}\n`,
    );
    const rows: Row[] = [
      {
        figure: 'issues poll 1 requests per repository',
        value: (firstPollRequests / REPOSITORIES).toFixed(2),
        target: '1',
        met: firstPollRequests === REPOSITORIES,
      },
      { figure: 'issues poll 2 rate-limit units used', value: String(secondPollUnits), target: '0', met: secondPollUnits === 0 },
      {
        figure: 'issues poll 2 requests per repository',
        value: (secondPollRequests / REPOSITORIES).toFixed(2),
        target: '1',
        met: secondPollRequests === REPOSITORIES,
      },
      { figure: 'issues poll 2 answered 304', value: `${notModified}/${REPOSITORIES}`, target: `${REPOSITORIES}/${REPOSITORIES}`, met: notModified === REPOSITORIES },
      ...commentRows,
      {
        figure: `requests/s (minInterval 0, maxConcurrent ${CONCURRENCY})`,
        value: perSecond.toFixed(0),
        target: '>= 500',
        met: perSecond >= 500,
      },
    ];
    printTable(rows);
    const stats = client.stats();
    console.log(`\nthrottle stats: ${stats.requests} requests, ${stats.notModified} not modified, ${stats.waits} waits`);
    console.log(
      'Each listing is one GET: 1 secondary point whether it answers 200 or 304 (a 304 is free of the primary limit only),\n' +
        `so polling comments of ${REPOSITORIES} repositories every minute spends ${REPOSITORIES} of GitHub's 900 REST points a minute.`,
    );
    const missed = rows.filter((row) => !row.met);
    if (missed.length > 0) {
      console.log(`\n${missed.length} target(s) MISSED:\n  ${missed.map((row) => `${row.figure}: ${row.value} (target ${row.target})`).join('\n  ')}`);
      process.exitCode = 1;
    } else {
      console.log(`\nall ${rows.length} targets met`);
    }
  } finally {
    await simulator.close();
  }
}

await main();
