/**
 * The dashboard in a real headless Chromium: what an operator sees with and
 * without JavaScript, that untrusted titles stay text, that the page refreshes
 * itself from /api/status, and the screenshot the README shows.
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import type { DashboardSnapshot } from '../src/infra/telemetry/dashboard.js';
import { type RunningHttpServer, startHttpServer } from '../src/infra/telemetry/http-server.js';
import { DaemonMetrics } from '../src/infra/telemetry/metrics.js';
import { skipUnlessAvailable } from './support/skips.js';

const CHROMIUM = '/usr/bin/chromium';
// The README's picture is refreshed only on request (UPDATE_SCREENSHOT=1 npm test), so a test run
// never rewrites a tracked file; otherwise the screenshot goes to the temp folder.
const SCREENSHOT = process.env.UPDATE_SCREENSHOT === '1'
  ? fileURLToPath(new URL('../docs/dashboard.png', import.meta.url))
  : join(tmpdir(), `autosolve-dashboard-${process.pid}.png`);
const WAIT_MS = 10_000;

const at = (iso: string, offsetMs: number): string => new Date(Date.parse(iso) + offsetMs).toISOString();
const GENERATED_AT = '2026-03-14T09:30:00.000Z';
const MINUTE = 60_000;

function demoSnapshot(): DashboardSnapshot {
  return {
    generatedAt: GENERATED_AT,
    ready: true,
    repositories: [
      {
        repository: 'demo/webapp',
        detectionPath: 'walk',
        validated: true,
        lastPolledAt: at(GENERATED_AT, -12_000),
        lastError: null,
        issues: 9,
        jobs: { pending: 1, running: 1, done: 4, dead: 0 },
      },
      {
        repository: 'demo/api',
        detectionPath: 'walk',
        validated: true,
        lastPolledAt: at(GENERATED_AT, -41_000),
        lastError: null,
        issues: 7,
        jobs: { pending: 0, running: 0, done: 3, dead: 1 },
      },
      {
        repository: 'demo/docs',
        detectionPath: 'sweep',
        validated: true,
        lastPolledAt: at(GENERATED_AT, -6 * MINUTE),
        lastError: 'fetch issues of demo/docs: GitHub answered 502 Bad Gateway; retrying in 20s',
        issues: 4,
        jobs: { pending: 2, running: 0, done: 1, dead: 0 },
      },
    ],
    moreRepositories: 0,
    fleet: {
      members: { walk: 2, stream: 0, sweep: 1, undecided: 0 },
      dropped: 0,
      detection: {
        projectedAt: at(GENERATED_AT, -40_000),
        paths: {
          walk: { interval: '60 s', latency: '57 s', bound: 'set by github.issues.parseInterval: it fits every budget', stretched: false },
          stream: { interval: '60 s', latency: '57 s', bound: 'set by github.issues.parseInterval: it fits every budget', stretched: false },
          sweep: { interval: '60 s', latency: '58 s', bound: 'set by github.issues.parseInterval: it fits every budget', stretched: false },
        },
      },
      streams: [],
    },
    queue: { pending: 3, running: 1, done: 8, dead: 1 },
    rateLimit: { limit: 5000, remaining: 4713, resetAt: Math.floor(Date.parse(GENERATED_AT) / 1000) + 38 * 60 },
    latestComments: [
      comment('demo/api', 12, 'Pagination returns duplicate items on the last page', -2 * MINUTE, 2041),
      comment('demo/webapp', 31, 'Dark mode: sidebar text is unreadable', -7 * MINUTE, 2038),
      comment('demo/webapp', 28, 'Login form accepts an empty password', -19 * MINUTE, 2033),
      comment('demo/docs', 5, 'Installation guide still mentions Node 16', -54 * MINUTE, 2029),
    ],
  };
}

function comment(repository: string, number: number, title: string, offsetMs: number, id: number) {
  return { repository, number, title, url: `https://github.com/${repository}/issues/${number}#issuecomment-${id}`, postedAt: at(GENERATED_AT, offsetMs) };
}

const CPU_BOUND = "bound by GitHub's GraphQL server time: raise github.rateLimit.cpuPerMinute (GitHub allows 90 s) or lower the fleet";

/** A fleet of 10,000: the table capped at 50, the detection card with a stretched path, a failing stream. */
function fleetSnapshot(): DashboardSnapshot {
  const snapshot = demoSnapshot();
  snapshot.repositories = Array.from({ length: 50 }, (_, i) => ({
    repository: `big/repo-${String(i).padStart(5, '0')}`,
    detectionPath: 'stream',
    validated: true,
    lastPolledAt: null,
    lastError: i === 0 ? 'GitHub answered 404 Not Found' : null,
    issues: 1,
    jobs: { pending: i === 0 ? 0 : 1, running: 0, done: 0, dead: 0 },
  }));
  snapshot.moreRepositories = 9_950;
  snapshot.fleet = {
    members: { walk: 1, stream: 9_000, sweep: 999, undecided: 0 },
    dropped: 7,
    detection: {
      projectedAt: at(GENERATED_AT, -2 * MINUTE),
      paths: {
        walk: { interval: '60 s', latency: '57 s', bound: 'set by github.issues.parseInterval: it fits every budget', stretched: false },
        stream: { interval: '60 s', latency: '57 s', bound: 'set by github.issues.parseInterval: it fits every budget', stretched: false },
        sweep: { interval: '4.2 min', latency: '4.0 min', bound: CPU_BOUND, stretched: true },
      },
    },
    streams: [
      { scope: 'org:big', lastPolledAt: at(GENERATED_AT, -30_000), lastError: `GitHub answered 502 Bad Gateway ${'<b>x</b>'}` },
      { scope: 'org:new', lastPolledAt: null, lastError: null },
    ],
  };
  return snapshot;
}

const MALICIOUS_TITLE = '<img src=x onerror=alert(1)>';
const MALICIOUS_ERROR = '</td><script>alert(2)</script>';

function hostileSnapshot(): DashboardSnapshot {
  const snapshot = demoSnapshot();
  snapshot.latestComments.unshift(
    { ...comment('demo/api', 40, MALICIOUS_TITLE, -MINUTE, 3001) },
    { repository: 'demo/api', number: 41, title: 'links only to the web', url: 'javascript:alert(3)', postedAt: at(GENERATED_AT, -MINUTE) },
  );
  (snapshot.repositories[2] as DashboardSnapshot['repositories'][number]).lastError = MALICIOUS_ERROR;
  return snapshot;
}

// Skipped with this reason where Chromium is missing; a failure in CI, which sets AUTOSOLVE_REQUIRE_BROWSER=1.
const chromiumMissing = skipUnlessAvailable({
  what: `Chromium at ${CHROMIUM}`,
  missing: existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing: install Debian's chromium package (.ci/run does)`,
  requiredBy: 'AUTOSOLVE_REQUIRE_BROWSER',
});

void describe('dashboard in headless Chromium', { skip: chromiumMissing }, () => {
  let browser: Browser | undefined;
  let server: RunningHttpServer | undefined;
  /** What the dashboard source answers next; an Error makes /api/status fail. */
  let current: DashboardSnapshot | Error = demoSnapshot();
  const contexts: BrowserContext[] = [];
  const extraServers: RunningHttpServer[] = [];
  /** Anything the pages asked of a host other than the test server. */
  const foreignRequests: string[] = [];
  /** Console errors and uncaught exceptions, CSP violations included. */
  const pageErrors: string[] = [];
  const dialogs: string[] = [];
  /** Set while a test makes /api/status fail on purpose: the browser logs those 500s. */
  let statusMayFail = false;

  before(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // The last flag is a belt to the braces of the route guard below: no DNS lookups either.
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
    });
    const metrics = new DaemonMetrics({ queueCounts: async () => ({ pending: 0, running: 0, done: 0, dead: 0 }) });
    server = await startHttpServer({
      listen: '127.0.0.1:0',
      metrics,
      health: () => ({ alive: true, ready: true }),
      dashboard: {
        snapshot: async () => {
          if (current instanceof Error) throw current;
          return current;
        },
      },
      dashboardRefreshMs: 250,
    });
  });

  // Pages keep refreshing while open; one test's pages must not see the next test's data.
  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close();
    statusMayFail = false;
  });

  after(async () => {
    for (const context of contexts.splice(0)) await context.close();
    await browser?.close();
    await server?.close();
    for (const extra of extraServers) await extra.close();
  });

  async function open(options: { javaScript: boolean }, baseUrl = server?.url): Promise<Page> {
    assert.ok(browser && baseUrl);
    const context = await browser.newContext({ javaScriptEnabled: options.javaScript, viewport: { width: 1200, height: 680 }, colorScheme: 'light' });
    contexts.push(context);
    const origin = new URL(baseUrl).origin;
    await context.route('**/*', async (route) => {
      const url = route.request().url();
      if (new URL(url).origin === origin) return route.continue();
      foreignRequests.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      if (statusMayFail && message.location().url.endsWith('/api/status')) return;
      pageErrors.push(message.text());
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    const response = await page.goto(`${baseUrl}/`);
    assert.equal(response?.status(), 200);
    return page;
  }

  /** Resolves once the script has rendered `generatedAt`, i.e. refreshed from /api/status. */
  async function refreshedTo(page: Page, generatedAt: string): Promise<void> {
    await page.locator(`#updated time[datetime="${generatedAt}"]`).waitFor({ timeout: WAIT_MS });
  }

  void it('shows the repositories, queue, rate limit and latest comments without JavaScript', async () => {
    current = demoSnapshot();
    const page = await open({ javaScript: false });

    const rows = page.locator('#repositories tbody tr');
    assert.deepEqual(await rows.locator('th').allInnerTexts(), ['demo/webapp', 'demo/api', 'demo/docs']);
    const docs = await page.locator('tr[data-repository="demo/docs"]').innerText();
    assert.match(docs, /failing/);
    assert.match(docs, /6 min ago/);
    assert.match(docs, /502 Bad Gateway/);
    assert.match(await page.locator('tr[data-repository="demo/webapp"]').innerText(), /polling\s+12 s ago\s+9\s+1\s+1\s+4\s+0/);

    assert.deepEqual(await page.locator('#queue dd').allInnerTexts(), ['3', '1', '8', '1']);
    assert.match(await page.locator('#rate-limit').innerText(), /4,713 of 5,000 left[\s\S]*resets in 38 min/);

    const link = page.locator('#comments a').first();
    assert.equal(await link.getAttribute('href'), 'https://github.com/demo/api/issues/12#issuecomment-2041');
    assert.equal(await link.innerText(), 'demo/api #12 Pagination returns duplicate items on the last page');
    assert.equal(await page.locator('#comments li').count(), 4);
  });

  void it('renders untrusted titles and errors as text, server-side and after a refresh', async () => {
    current = hostileSnapshot();
    const check = async (page: Page, how: string) => {
      assert.equal(await page.locator('#comments .title').first().innerText(), MALICIOUS_TITLE, how);
      assert.equal(await page.locator('img').count(), 0, `${how}: no element was injected`);
      assert.equal(await page.locator('script').count(), 1, `${how}: only the page's own script`);
      assert.equal(await page.locator('tr[data-repository="demo/docs"] td.error').innerText(), MALICIOUS_ERROR, how);
      assert.equal(await page.locator('a[href^="javascript"]').count(), 0, `${how}: a javascript: URL never becomes a link`);
      assert.match(await page.locator('#comments li').nth(1).innerText(), /demo\/api #41 links only to the web/, how);
    };

    await check(await open({ javaScript: false }), 'server-rendered');
    const page = await open({ javaScript: true });
    await check(page, 'server-rendered, script running');
    const refreshed = hostileSnapshot();
    refreshed.generatedAt = at(GENERATED_AT, 5_000);
    current = refreshed;
    await refreshedTo(page, refreshed.generatedAt);
    await check(page, 'rendered by the script');
    assert.deepEqual(dialogs, [], 'no injected handler ran');
  });

  void it('refreshes from /api/status exactly as the server renders, and flags stale data', async () => {
    current = demoSnapshot();
    const page = await open({ javaScript: true });
    assert.equal(await page.locator('#stale').isVisible(), false);

    const next = demoSnapshot();
    next.generatedAt = at(GENERATED_AT, 30_000);
    next.latestComments.unshift(comment('demo/docs', 6, 'Broken link in the FAQ', -3_000, 2050));
    next.queue = { pending: 2, running: 1, done: 9, dead: 1 };
    current = next;
    await refreshedTo(page, next.generatedAt);
    const byScript = await page.locator('#status').innerText();
    assert.equal(await page.locator('#comments a').first().getAttribute('href'), 'https://github.com/demo/docs/issues/6#issuecomment-2050');
    assert.deepEqual(await page.locator('#queue dd').allInnerTexts(), ['2', '1', '9', '1']);

    const serverPage = await open({ javaScript: false });
    assert.equal(byScript, await serverPage.locator('#status').innerText(), 'the script renders what the server renders');
    assert.equal(await page.locator('#updated').innerText(), await serverPage.locator('#updated').innerText());
    assert.equal(await page.locator('#updated').innerText(), 'updated 2026-03-14 09:30:30 UTC');

    statusMayFail = true;
    current = new Error('status unavailable');
    await page.locator('#stale').waitFor({ state: 'visible', timeout: WAIT_MS });
    current = next;
    await page.locator('#stale').waitFor({ state: 'hidden', timeout: WAIT_MS });
  });

  void it("shows the dispatcher's pause and its reason as the server renders it, and drops it when it clears", async () => {
    const paused = (offsetMs: number): DashboardSnapshot => ({
      ...demoSnapshot(),
      generatedAt: at(GENERATED_AT, offsetMs),
      ready: false,
      dispatcherPause: { reason: 'credential', message: `GitHub rejected the token (401 Bad credentials): check github.token ${MALICIOUS_TITLE}`, since: at(GENERATED_AT, -3 * MINUTE) },
    });
    current = paused(0);
    const page = await open({ javaScript: true });
    assert.equal(await page.locator('#ready').innerText(), 'paused');
    assert.match(await page.locator('#pause').innerText(), /Dispatcher paused \(credential\)[\s\S]*check github\.token <img[\s\S]*since 3 min ago/);
    assert.equal(await page.locator('img').count(), 0, 'the message stays text');

    current = paused(20_000);
    await refreshedTo(page, current.generatedAt);
    const serverPage = await open({ javaScript: false });
    assert.equal(await page.locator('#status').innerText(), await serverPage.locator('#status').innerText(), 'the script renders what the server renders');
    assert.equal(await page.locator('#ready').innerText(), 'paused');

    const cleared = demoSnapshot();
    cleared.generatedAt = at(GENERATED_AT, 40_000);
    current = cleared;
    await refreshedTo(page, cleared.generatedAt);
    assert.equal(await page.locator('#pause').count(), 0);
    assert.equal(await page.locator('#ready').innerText(), 'ready');
  });

  void it('shows the detection card and a capped repositories table for a fleet, the script rendering what the server renders', async () => {
    current = fleetSnapshot();
    const check = async (page: Page, how: string) => {
      const rows = page.locator('#fleet tbody tr');
      assert.deepEqual(await rows.locator('th').allInnerTexts(), ['walk', 'stream', 'sweep'], how);
      assert.match(await page.locator('#fleet tr[data-path="stream"]').innerText(), /^stream\s+9,000\s+60 s\s+57 s\s+set by github\.issues\.parseInterval/, how);
      const sweep = page.locator('#fleet tr[data-path="sweep"]');
      assert.equal(await sweep.locator('td.bound').innerText(), CPU_BOUND, how);
      assert.equal(await sweep.locator('td.bound.stretched').count(), 1, `${how}: a stretched path stands out`);
      assert.match(await sweep.innerText(), /^sweep\s+999\s+4\.2 min\s+4\.0 min/, how);
      assert.match(await page.locator('#fleet').innerText(), /projected 2 min ago/, how);
      assert.equal(await page.locator('#dropped').innerText(), '7 discovered repositories dropped', how);
      assert.equal(await page.locator('#fleet li[data-scope="org:big"]').innerText(), 'org:big last pass 30 s ago GitHub answered 502 Bad Gateway <b>x</b>', how);
      assert.equal(await page.locator('#fleet b').count(), 0, `${how}: the error stays text`);
      assert.equal(await page.locator('#fleet li[data-scope="org:new"]').innerText(), 'org:new no pass completed yet', how);
      assert.equal(await page.locator('#repositories tbody tr').count(), 50, how);
      assert.match(await page.locator('tr[data-repository="big/repo-00000"]').innerText(), /^big\/repo-00000\s+stream\s+failing/, how);
      assert.match(await page.locator('#more-repositories').innerText(), /^and 9,950 more \(those with an error or a live job are listed first\)/, how);
    };
    const serverPage = await open({ javaScript: false });
    await check(serverPage, 'server-rendered');
    const page = await open({ javaScript: true });
    const next = fleetSnapshot();
    next.generatedAt = at(GENERATED_AT, 1_000);
    next.fleet!.streams[0]!.lastPolledAt = at(next.generatedAt, -30_000);
    current = next;
    await refreshedTo(page, next.generatedAt);
    await check(page, 'rendered by the script');
    const sameTime = await open({ javaScript: false });
    assert.equal(await page.locator('#status').innerText(), await sameTime.locator('#status').innerText(), 'the script renders what the server renders');
  });

  void it('leaves the detection card out while the fleet has nothing to say', async () => {
    const bare = demoSnapshot();
    delete bare.fleet;
    delete bare.moreRepositories;
    bare.repositories = bare.repositories.map(({ detectionPath: _, ...repo }) => repo);
    current = bare;
    const page = await open({ javaScript: true });
    assert.equal(await page.locator('#fleet').count(), 0);
    assert.equal(await page.locator('#more-repositories').count(), 0);
    const next = { ...bare, generatedAt: at(GENERATED_AT, 2_000), fleet: null };
    current = next;
    await refreshedTo(page, next.generatedAt);
    assert.equal(await page.locator('#fleet').count(), 0);
    assert.equal(await page.locator('tr[data-repository="demo/docs"] td.path').innerText(), '-', 'an older daemon sends no paths');
  });

  void it('looks right: renders a full-page screenshot', async () => {
    // A server at the default refresh interval, so the footer reads as in production.
    const metrics = new DaemonMetrics({ queueCounts: async () => ({ pending: 0, running: 0, done: 0, dead: 0 }) });
    const production = await startHttpServer({
      listen: '127.0.0.1:0',
      metrics,
      health: () => ({ alive: true, ready: true }),
      dashboard: { snapshot: async () => demoSnapshot() },
    });
    extraServers.push(production);
    const page = await open({ javaScript: true }, production.url);
    assert.match(await page.locator('footer').innerText(), /Refreshes every 5 s/);
    // The inline stylesheet applied (a CSP mismatch would leave the page unstyled).
    const font = await page.evaluate('getComputedStyle(document.body).fontFamily');
    assert.match(String(font), /system-ui/);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(existsSync(SCREENSHOT));
    if (process.env.UPDATE_SCREENSHOT !== '1') rmSync(SCREENSHOT);
  });

  void it('stayed on 127.0.0.1 and raised no console errors', () => {
    assert.deepEqual(foreignRequests, []);
    assert.deepEqual(pageErrors, []);
  });
});
