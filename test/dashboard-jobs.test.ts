/**
 * The dashboard's jobs card (issue 12): the queue by type, and the latest
 * jobs, each with what it is about (answer, revise, follow-up of comment N)
 * and how it ended (answered, revised, current, skipped, ...); a reply among
 * the latest comments is marked as one. In a real headless Chromium, as the
 * server renders it and as the script renders it after a refresh (the same
 * text), a hostile title staying text. And the daemon's own /api/status, read
 * from a real database holding an answer, a revision, a dead revision and a
 * follow-up (src/observability.ts), on both engines.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, afterEach, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { ANSWER_JOB, FOLLOW_UP_JOB, REVISE_JOB } from '../src/domain/eligibility.js';
import { SqlCommentSyncStore, SqlIssueSyncStore, SqlJobQueue, SqlRepositoryStore, type Database } from '../src/infra/store/index.js';
import type { DashboardJobs, DashboardSnapshot } from '../src/infra/telemetry/dashboard.js';
import { type RunningHttpServer, startHttpServer } from '../src/infra/telemetry/http-server.js';
import { DaemonMetrics } from '../src/infra/telemetry/metrics.js';
import { Observability } from '../src/observability.js';
import { testEngines } from './support/engines.js';
import { issue } from './support/issues.js';
import { skipUnlessAvailable } from './support/skips.js';

const CHROMIUM = '/usr/bin/chromium';
const WAIT_MS = 10_000;
const GENERATED_AT = '2026-03-14T09:30:00.000Z';
const at = (iso: string, offsetMs: number): string => new Date(Date.parse(iso) + offsetMs).toISOString();
const HOSTILE_TITLE = '<img src=x onerror=alert(1)>';
const MENTION = 2_345_678_901;

function jobs(generatedAt: string): DashboardJobs {
  const job = (id: number, type: string, state: string, outcome: string | null, url: string | null, agoMs: number, extra: Partial<DashboardJobs['latest'][number]> = {}) => ({
    id,
    repository: 'demo/api',
    number: 12,
    title: 'Pagination returns duplicates',
    type,
    subjectId: 0,
    state,
    outcome,
    url,
    at: at(generatedAt, -agoMs),
    ...extra,
  });
  return {
    byType: {
      answer: { pending: 1, running: 0, done: 7, dead: 0 },
      'follow-up': { pending: 0, running: 1, done: 2, dead: 0 },
      revise: { pending: 0, running: 0, done: 3, dead: 1 },
    },
    latest: [
      job(16, FOLLOW_UP_JOB, 'running', null, null, 5_000, { subjectId: MENTION }),
      job(15, FOLLOW_UP_JOB, 'done', 'answered', 'https://github.com/demo/api/issues/12#issuecomment-2051', 60_000, { subjectId: 2_050 }),
      job(14, REVISE_JOB, 'done', 'revised', 'https://github.com/demo/api/issues/12#issuecomment-2041', 2 * 60_000),
      job(13, REVISE_JOB, 'done', 'current', null, 3 * 60_000),
      job(12, REVISE_JOB, 'dead', null, null, 4 * 60_000),
      job(11, FOLLOW_UP_JOB, 'done', 'skipped', null, 5 * 60_000, { subjectId: 2_049, title: HOSTILE_TITLE }),
      job(10, ANSWER_JOB, 'done', 'answered', 'javascript:alert(3)', 6 * 60_000, { number: null, title: '' }),
    ],
  };
}

function snapshot(generatedAt: string, card: DashboardJobs | null | undefined): DashboardSnapshot {
  return {
    generatedAt,
    ready: true,
    repositories: [],
    queue: { pending: 1, running: 1, done: 12, dead: 1 },
    rateLimit: null,
    latestComments: [
      { repository: 'demo/api', number: 12, title: 'Pagination returns duplicates', url: 'https://github.com/demo/api/issues/12#issuecomment-2051', postedAt: at(generatedAt, -60_000), type: FOLLOW_UP_JOB },
      { repository: 'demo/api', number: 11, title: 'Crash on save', url: 'https://github.com/demo/api/issues/11#issuecomment-2040', postedAt: at(generatedAt, -120_000), type: ANSWER_JOB },
    ],
    ...(card === undefined ? {} : { jobs: card }),
  };
}

const chromiumMissing = skipUnlessAvailable({
  what: `Chromium at ${CHROMIUM}`,
  missing: existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing: install Debian's chromium package (.ci/run does)`,
  requiredBy: 'AUTOSOLVE_REQUIRE_BROWSER',
});

void describe('jobs card in headless Chromium', { skip: chromiumMissing }, () => {
  let browser: Browser | undefined;
  let server: RunningHttpServer | undefined;
  let current: DashboardSnapshot = snapshot(GENERATED_AT, jobs(GENERATED_AT));
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  const dialogs: string[] = [];

  before(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
    });
    server = await startHttpServer({
      listen: '127.0.0.1:0',
      metrics: new DaemonMetrics({ queueCounts: async () => ({ pending: 0, running: 0, done: 0, dead: 0 }) }),
      health: () => ({ alive: true, ready: true }),
      dashboard: { snapshot: async () => current },
      dashboardRefreshMs: 250,
    });
  });
  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  async function open(javaScript: boolean): Promise<Page> {
    assert.ok(browser && server);
    const context = await browser.newContext({ javaScriptEnabled: javaScript });
    contexts.push(context);
    const page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    assert.equal((await page.goto(`${server.url}/`))?.status(), 200);
    return page;
  }

  async function refreshedTo(page: Page, generatedAt: string): Promise<void> {
    await page.locator(`#updated time[datetime="${generatedAt}"]`).waitFor({ timeout: WAIT_MS });
  }

  async function check(page: Page, how: string): Promise<void> {
    const types = page.locator('#jobs-by-type tbody tr');
    assert.deepEqual(await types.locator('th').allInnerTexts(), ['answer', 'follow-up', 'revise'], how);
    assert.match(await page.locator('#jobs tr[data-type="revise"]').innerText(), /^revise\s+0\s+0\s+3\s+1$/, how);
    assert.equal(await page.locator('#jobs tr[data-type="revise"] td.bad').count(), 1, `${how}: a dead revision stands out`);

    const row = (id: number) => page.locator(`#jobs tr[data-job="${id}"]`);
    assert.match(await row(16).innerText(), new RegExp(`^16\\s+demo/api #12 Pagination returns duplicates\\s+follow-up of comment ${MENTION}\\s+running\\s+-\\s+5 s ago$`), how);
    assert.match(await row(15).innerText(), /follow-up of comment 2050\s+done\s+answered\s+1 min ago$/, how);
    assert.equal(await row(15).locator('td.outcome.ok a').getAttribute('href'), 'https://github.com/demo/api/issues/12#issuecomment-2051', `${how}: the reply is linked`);
    assert.match(await row(14).innerText(), /\srevise\s+done\s+revised\s+2 min ago$/, how);
    assert.equal(await row(14).locator('td.outcome.ok a').count(), 1, `${how}: the edited answer is linked`);
    assert.match(await row(13).innerText(), /\srevise\s+done\s+current\s+3 min ago$/, how);
    assert.match(await row(12).innerText(), /\srevise\s+dead\s+-\s+4 min ago$/, how);
    assert.equal(await row(12).locator('td.outcome.bad').count(), 1, how);
    assert.match(await row(11).innerText(), /follow-up of comment 2049\s+done\s+skipped\s+5 min ago$/, how);
    assert.equal(await row(11).locator('.title').innerText(), HOSTILE_TITLE, `${how}: the title stays text`);
    assert.match(await row(10).innerText(), /^10\s+demo\/api #\?\s+answer\s+done\s+answered\s+6 min ago$/, `${how}: an issue no longer stored`);
    assert.equal(await page.locator('img').count(), 0, `${how}: no element was injected`);
    assert.equal(await page.locator('a[href^="javascript"]').count(), 0, `${how}: a javascript: URL never becomes a link`);

    assert.deepEqual(await page.locator('#comments li .badge').allInnerTexts(), ['reply'], `${how}: the reply is marked, the answer is not`);
    assert.match(await page.locator('#comments li').first().innerText(), /^demo\/api #12 Pagination returns duplicates reply 1 min ago$/, how);
  }

  void it('lists the queue by type and the latest jobs with what each is about and how it ended, server-side and as the script renders it', async () => {
    current = snapshot(GENERATED_AT, jobs(GENERATED_AT));
    await check(await open(false), 'server-rendered');
    const page = await open(true);
    const next = at(GENERATED_AT, 1_000);
    current = snapshot(next, jobs(next));
    await refreshedTo(page, next);
    await check(page, 'rendered by the script');
    const sameTime = await open(false);
    assert.equal(await page.locator('#status').innerText(), await sameTime.locator('#status').innerText(), 'the script renders what the server renders');
    assert.deepEqual(dialogs, [], 'no injected handler ran');
  });

  void it('says when the queue is empty, and leaves the card out of an older snapshot', async () => {
    current = snapshot(GENERATED_AT, { byType: {}, latest: [] });
    const page = await open(true);
    assert.equal(await page.locator('#jobs p').innerText(), 'No queue jobs yet.');
    assert.equal(await page.locator('#jobs-latest').count(), 0);

    current = snapshot(at(GENERATED_AT, 1_000), undefined);
    await refreshedTo(page, current.generatedAt);
    assert.equal(await page.locator('#jobs').count(), 0);
    assert.equal(await (await open(false)).locator('#jobs').count(), 0);
    assert.equal(await page.locator('#status').innerText(), await (await open(false)).locator('#status').innerText(), 'the script renders what the server renders');
  });

  void it('raised no console errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});

/** acme/api#1 answered, edited twice (one revision done, one dead), and a mention on it replied to. */
async function buildQueue(database: Database): Promise<void> {
  const api = await new SqlRepositoryStore(database.db).record({ owner: 'acme', name: 'api' }, { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' });
  const sync = new SqlIssueSyncStore(database.db, { maxAttempts: 2, reanalyze: true });
  const queue = new SqlJobQueue(database.db, { retryDelayMs: 0 });
  const cursor = { since: null, page: 1, etag: null };
  const base = issue(1, { title: 'Proxy settings ignored' });
  await sync.save(api, [base], cursor, [{ type: ANSWER_JOB, issueGithubId: 1 }]);
  for (const job of await queue.claim(ANSWER_JOB, 1, 60_000)) await queue.complete(job, { outcome: 'answered', commentUrl: 'https://github.com/acme/api/issues/1#issuecomment-7' });
  await sync.save(api, [{ ...base, body: 'edited once', updatedAt: '2026-02-01T00:00:00Z' }], cursor, []);
  const [revise] = await queue.claim(REVISE_JOB, 1, 60_000);
  await queue.complete(revise!, { outcome: 'revised', commentUrl: 'https://github.com/acme/api/issues/1#issuecomment-7' });
  await sync.save(api, [{ ...base, body: 'edited twice', updatedAt: '2026-02-02T00:00:00Z' }], cursor, []);
  const [dead] = await queue.claim(REVISE_JOB, 1, 60_000);
  await queue.fail({ ...dead!, attempts: dead!.maxAttempts }, 'command exited 1');
  await new SqlCommentSyncStore(database.db, { maxAttempts: 2 }).save(api, cursor, [{ type: FOLLOW_UP_JOB, issueGithubId: 1, subjectId: MENTION }]);
  const [followUp] = await queue.claim(FOLLOW_UP_JOB, 1, 60_000);
  await queue.complete(followUp!, { outcome: 'answered', commentUrl: 'https://github.com/acme/api/issues/1#issuecomment-9' });
}

for (const engine of await testEngines()) {
  void describe(`/api/status jobs of a daemon on ${engine.name}`, { skip: engine.skip }, () => {
    let database: Database;
    let cleanup: () => Promise<void>;
    let observability: Observability | undefined;
    before(async () => {
      ({ database, cleanup } = await engine.fresh());
    });
    after(async () => {
      await observability?.close();
      await cleanup();
    });

    void it('carries the queue by type, the latest jobs with their type, comment and outcome, and which latest comment is a reply', async () => {
      await buildQueue(database);
      observability = await Observability.create('127.0.0.1:0', database.db, [], pino({ level: 'silent' }));
      const url = await observability.start(() => ({ alive: true, ready: true }));
      const status = (await (await fetch(`${url}/api/status`)).json()) as DashboardSnapshot;
      assert.deepEqual(status.jobs?.byType, {
        answer: { pending: 0, running: 0, done: 1, dead: 0 },
        'follow-up': { pending: 0, running: 0, done: 1, dead: 0 },
        revise: { pending: 0, running: 0, done: 1, dead: 1 },
      });
      assert.deepEqual(
        status.jobs?.latest.map((j) => [j.type, j.subjectId, j.state, j.outcome, j.url, j.number, j.title]),
        [
          [FOLLOW_UP_JOB, MENTION, 'done', 'answered', 'https://github.com/acme/api/issues/1#issuecomment-9', 1, 'Proxy settings ignored'],
          [REVISE_JOB, 0, 'dead', null, null, 1, 'Proxy settings ignored'],
          [REVISE_JOB, 0, 'done', 'revised', 'https://github.com/acme/api/issues/1#issuecomment-7', 1, 'Proxy settings ignored'],
          [ANSWER_JOB, 0, 'done', 'answered', 'https://github.com/acme/api/issues/1#issuecomment-7', 1, 'Proxy settings ignored'],
        ],
        'newest first',
      );
      for (const job of status.jobs?.latest ?? []) assert.ok(!Number.isNaN(Date.parse(job.at)), `job ${job.id}: a time the page can read (${job.at})`);
      assert.deepEqual(
        status.latestComments.map((c) => [c.url, c.type]).sort(),
        [
          ['https://github.com/acme/api/issues/1#issuecomment-7', ANSWER_JOB],
          ['https://github.com/acme/api/issues/1#issuecomment-9', FOLLOW_UP_JOB],
        ],
      );
    });
  });
}
