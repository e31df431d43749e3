/**
 * The dashboard's daemons card: each daemon with its heartbeat's age, its
 * leases and a few of its units, a stale one marked, and the totals; in a real
 * headless Chromium, as the server renders it and as the script renders it
 * after a refresh (the same text), a hostile host name staying text. And the
 * daemon's own /api/status, read from a real database where two daemons are
 * registered, carries them (src/observability.ts).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, afterEach, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core';
import { INSTANCE_STALE_MS } from '../src/composition/instance-heartbeat.js';
import { SqlInstanceRegistry, SqlWorkLeaseStore, type Database } from '../src/infra/store/index.js';
import type { DashboardDaemons, DashboardSnapshot } from '../src/infra/telemetry/dashboard.js';
import { type RunningHttpServer, startHttpServer } from '../src/infra/telemetry/http-server.js';
import { DaemonMetrics } from '../src/infra/telemetry/metrics.js';
import { Observability } from '../src/observability.js';
import { testEngines } from './support/engines.js';
import { skipUnlessAvailable } from './support/skips.js';

const CHROMIUM = '/usr/bin/chromium';
const WAIT_MS = 10_000;
const GENERATED_AT = '2026-03-14T09:30:00.000Z';
const at = (iso: string, offsetMs: number): string => new Date(Date.parse(iso) + offsetMs).toISOString();
const HOSTILE_HOST = '<img src=x onerror=alert(1)>';

function daemons(): DashboardDaemons {
  return {
    daemons: [
      { id: 'd-old', host: 'gamma', pid: 303, version: '1.4.0', heartbeatAt: at(GENERATED_AT, -95_000), live: false, leases: 0, units: [] },
      { id: 'd-a', host: 'alpha', pid: 101, version: '1.4.0', heartbeatAt: at(GENERATED_AT, -2_000), live: true, leases: 151, units: ['discovery', 'repo:1', 'repo:10', 'repo:100', 'repo:101'] },
      { id: 'd-b', host: HOSTILE_HOST, pid: 202, version: '1.5.0</td>', heartbeatAt: at(GENERATED_AT, -4_000), live: true, leases: 1, units: ['stream:acme'] },
    ],
    units: { total: 300, held: 152, orphaned: 148 },
    repositories: { total: 298, held: 150 },
  };
}

function snapshot(generatedAt: string, card: DashboardDaemons | null | undefined): DashboardSnapshot {
  return {
    generatedAt,
    ready: true,
    repositories: [],
    queue: { pending: 0, running: 0, done: 0, dead: 0 },
    rateLimit: null,
    latestComments: [],
    ...(card === undefined ? {} : { daemons: card }),
  };
}

const chromiumMissing = skipUnlessAvailable({
  what: `Chromium at ${CHROMIUM}`,
  missing: existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing: install Debian's chromium package (.ci/run does)`,
  requiredBy: 'AUTOSOLVE_REQUIRE_BROWSER',
});

void describe('daemons card in headless Chromium', { skip: chromiumMissing }, () => {
  let browser: Browser | undefined;
  let server: RunningHttpServer | undefined;
  let current: DashboardSnapshot = snapshot(GENERATED_AT, daemons());
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

  /** Resolves once the script has rendered `generatedAt`, i.e. refreshed from /api/status. */
  async function refreshedTo(page: Page, generatedAt: string): Promise<void> {
    await page.locator(`#updated time[datetime="${generatedAt}"]`).waitFor({ timeout: WAIT_MS });
  }

  async function check(page: Page, how: string): Promise<void> {
    const rows = page.locator('#daemons tbody tr');
    assert.deepEqual(await rows.locator('th').allInnerTexts(), ['gamma', 'alpha', HOSTILE_HOST], `${how}: oldest first, the host name as text`);
    assert.equal(await page.locator('img').count(), 0, `${how}: no element was injected`);
    assert.match(await page.locator('tr[data-daemon="d-old"]').innerText(), /^gamma\s+303\s+1\.4\.0\s+1 min ago\s*stale\s+0\s+$/, how);
    assert.equal(await page.locator('tr[data-daemon="d-old"].stale .badge').count(), 1, `${how}: the stale daemon stands out`);
    assert.match(await page.locator('tr[data-daemon="d-a"]').innerText(), /^alpha\s+101\s+1\.4\.0\s+2 s ago\s+151\s+discovery, repo:1, repo:10, repo:100, repo:101, …$/, how);
    assert.equal(await page.locator('tr[data-daemon="d-a"] .badge').count(), 0, `${how}: a live daemon is not marked`);
    assert.match(await page.locator('tr[data-daemon="d-b"]').innerText(), /1\.5\.0<\/td>\s+4 s ago\s+1\s+stream:acme$/, how);
    assert.equal(
      await page.locator('#daemon-totals').innerText(),
      '3 daemons, 2 live · 300 work units, 152 held, 148 waiting for a daemon · 298 repositories, 150 held',
      how,
    );
  }

  void it('shows each daemon, the stale one marked, and the totals, server-side and as the script renders it', async () => {
    current = snapshot(GENERATED_AT, daemons());
    const serverPage = await open(false);
    await check(serverPage, 'server-rendered');
    const page = await open(true);
    current = snapshot(at(GENERATED_AT, 1_000), daemons());
    // The ages are relative to the snapshot: shift the heartbeats with it.
    for (const daemon of current.daemons!.daemons) daemon.heartbeatAt = at(daemon.heartbeatAt, 1_000);
    await refreshedTo(page, current.generatedAt);
    await check(page, 'rendered by the script');
    const sameTime = await open(false);
    assert.equal(await page.locator('#status').innerText(), await sameTime.locator('#status').innerText(), 'the script renders what the server renders');
    assert.deepEqual(dialogs, [], 'no injected handler ran');
  });

  void it('says when no daemon runs, leaves the lease columns empty without work leases, and leaves the card out of an older snapshot', async () => {
    current = snapshot(GENERATED_AT, { daemons: [], units: { total: 12, held: 0, orphaned: 12 }, repositories: { total: 10, held: 0 } });
    const page = await open(true);
    assert.equal(await page.locator('#daemons p').innerText(), 'no daemon running; 12 work units waiting for a daemon');

    const unleased = { ...daemons(), units: null, repositories: null };
    current = snapshot(at(GENERATED_AT, 1_000), unleased);
    await refreshedTo(page, current.generatedAt);
    assert.match(await page.locator('tr[data-daemon="d-a"]').innerText(), /^alpha\s+101\s+1\.4\.0\s+\d+ s ago\s+-\s+-$/);
    assert.equal(await page.locator('#daemon-totals').innerText(), '3 daemons, 2 live');
    const serverPage = await open(false);
    assert.equal(await page.locator('#status').innerText(), await serverPage.locator('#status').innerText(), 'the script renders what the server renders');

    current = snapshot(at(GENERATED_AT, 2_000), undefined);
    await refreshedTo(page, current.generatedAt);
    assert.equal(await page.locator('#daemons').count(), 0);
    assert.equal(await (await open(false)).locator('#daemons').count(), 0);
  });

  void it('raised no console errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});

for (const engine of await testEngines()) {
  void describe(`/api/status of a daemon on ${engine.name}`, { skip: engine.skip }, () => {
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

    void it('carries every daemon registered on the database with its leases', async () => {
      // The system clock: the snapshot reads it. Long leases and ages far from 30 s keep the counts still.
      const now = Date.now();
      const register = (id: string, host: string, beat: number) =>
        new SqlInstanceRegistry(database.db, { id, host, pid: 7 }, { version: '2.0.0', staleAfterMs: INSTANCE_STALE_MS, shared: true, now: () => new Date(beat) }).register(database.path);
      await register('one', 'host-one', now);
      await register('two', 'host-two', now - 10 * 60_000);
      const leases = new SqlWorkLeaseStore(database.db, 'one', { now: () => new Date(now) });
      await leases.ensure(['discovery', 'repo:1', 'repo:2']);
      await leases.acquire(['discovery', 'repo:1'], 3_600_000);

      observability = await Observability.create('127.0.0.1:0', database.db, [], pino({ level: 'silent' }));
      const url = await observability.start(() => ({ alive: true, ready: true }));
      const response = await fetch(`${url}/api/status`);
      assert.equal(response.status, 200);
      const { daemons: card } = (await response.json()) as DashboardSnapshot;
      assert.deepEqual(card, {
        daemons: [
          { id: 'two', host: 'host-two', pid: 7, version: '2.0.0', heartbeatAt: new Date(now - 10 * 60_000).toISOString(), live: false, leases: 0, units: [] },
          { id: 'one', host: 'host-one', pid: 7, version: '2.0.0', heartbeatAt: new Date(now).toISOString(), live: true, leases: 2, units: ['discovery', 'repo:1'] },
        ],
        units: { total: 3, held: 2, orphaned: 1 },
        repositories: { total: 2, held: 1 },
      } satisfies DashboardDaemons);
    });
  });
}
