/** `autosolve status [--json]`: what the daemon did and is waiting for, from its database. */
import { Command } from 'commander';
import { ANSWER_JOB, describeBacklogPolicy } from '../domain/eligibility.js';
import { describeLatency } from '../domain/fleet/capacity.js';
import type { DispatcherPause } from '../domain/tasks/global/dispatch-failure.js';
import { INSTANCE_STALE_MS } from '../composition/instance-heartbeat.js';
import {
  readDaemons,
  SqlPauseStore,
  StatusReader,
  type DetectionStatus,
  type FleetStatus,
  type QueueTotals,
  type RateLimitStatus,
  type RepositoryStatus,
} from '../infra/store/index.js';
import { DETECTION_PATHS } from '../domain/fleet/types.js';
import { loadFor, openExistingDatabase, printJson, withConfigOption, type ConfigOption } from './shared.js';
import { daemonsJson, describeDaemons } from './status-daemons.js';
import { ago, count, fit, formatDuration, number, oneLine, pad } from './status-text.js';

// `jobs` writes as `status` does.
export { ago, fit, formatDuration, oneLine, pad };

/** Human output is laid out for this many columns. */
export const WIDTH = 80;

interface StatusOptions extends ConfigOption {
  readonly json?: boolean;
}

export function statusCommand(): Command {
  return withConfigOption(new Command('status'))
    .description('show each repository, the queue and the rate-limit budget, from the database (--json for scripts)')
    .option('--json', 'one JSON document instead of tables')
    .action(async (options: StatusOptions) => {
      const { config } = loadFor(options, false);
      const database = await openExistingDatabase(config.database);
      try {
        const reader = new StatusReader(database.db);
        const now = new Date();
        const [repositories, rateLimit, queue, latestComments, pause, fleet, detection, daemons, queueByType] = await Promise.all([
          reader.repositories(now, config.github.repositories, {
            policy: config.github.issues.backlog,
            requiredLabel: config.github.issues.requiredLabel,
            dryRun: config.ai.dryRun,
          }),
          reader.rateLimit(),
          reader.queue(),
          reader.latestComments(),
          new SqlPauseStore(database.db).read(),
          reader.fleet(now),
          reader.detection(now),
          readDaemons(database.db, now, { staleAfterMs: INSTANCE_STALE_MS }),
          reader.queueByType(),
        ]);
        const skipped = repositories.reduce((total, r) => total + (r.backlog?.skipped ?? 0), 0);
        const backlog = { key: 'github.issues.backlog', policy: describeBacklogPolicy(config.github.issues.backlog), skipped };
        if (options.json) {
          printJson({
            database: database.path,
            generatedAt: now.toISOString(),
            repositories,
            rateLimit: rateLimit && rateLimitJson(rateLimit, now),
            queue,
            queueByType,
            daemons: daemonsJson(daemons),
            backlog,
            dispatcher: pause ? { paused: true, ...pause } : { paused: false },
            latestComments,
            fleet,
            detection,
          });
          return;
        }
        const lines = [
          ...repositoryTable(repositories, now, pathsInUse(fleet) > 1),
          '',
          `rate limit  ${describeRateLimit(rateLimit, now)}`,
          `queue       ${queue.pending} pending, ${queue.running} running, ${queue.done} done, ${queue.dead} dead`,
          ...(queue.dead > 0 ? ['            `autosolve jobs list --state dead` shows the dead ones'] : []),
          ...describeTypes(queueByType),
          ...describeDaemons(daemons, now, WIDTH),
          `backlog     ${skipped} ${skipped === 1 ? 'issue' : 'issues'} skipped as backlog (github.issues.backlog: ${backlog.policy})`,
          ...(skipped > 0 ? [`            set github.issues.backlog: ${backlog.policy === 'skip' ? 'answer or 7d' : 'answer or a longer duration'} to answer them`] : []),
          ...(pause ? describePause(pause, now) : []),
          ...describeFleet(fleet, now),
          ...(detection ? describeDetection(detection, now) : []),
        ];
        // The path is printed whole even when long: a cut path is useless to copy.
        process.stdout.write(`database    ${database.path}\n\n${lines.map((line) => fit(line, WIDTH)).join('\n')}\n`);
      } finally {
        await database.close();
      }
    });
}

/**
 * The queue by job type, once there is more than answers (revisions, follow-ups):
 * `by type: 12 answer, 2 revise (1 pending), 3 follow-up (1 running)`.
 */
function describeTypes(byType: Readonly<Record<string, QueueTotals>>): string[] {
  const types = Object.entries(byType);
  if (types.every(([type]) => type === ANSWER_JOB)) return [];
  const described = types.map(([type, totals]) => {
    const total = totals.pending + totals.running + totals.done + totals.dead;
    const live = [...(totals.pending > 0 ? [`${totals.pending} pending`] : []), ...(totals.running > 0 ? [`${totals.running} running`] : [])];
    return `${number(total)} ${type}${live.length > 0 ? ` (${live.join(', ')})` : ''}`;
  });
  return [`            by type: ${described.join(', ')}`];
}

/** The pause, its message wrapped (not cut: the end says what to do). */
export function describePause(pause: DispatcherPause, now: Date): string[] {
  const indent = ' '.repeat(12);
  const head = `dispatcher  PAUSED (${pause.reason}) since ${ago(pause.since, now)}; jobs wait, no attempt spent`;
  return [head, ...wrap(oneLine(pause.message), WIDTH - indent.length).map((line) => indent + line)];
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && [...line].length + 1 + [...word].length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

function rateLimitJson(rate: RateLimitStatus, now: Date) {
  return {
    limit: rate.limit,
    remaining: rate.remaining,
    resetAt: new Date(rate.resetAt * 1000).toISOString(),
    resetInSeconds: Math.max(0, Math.round(rate.resetAt - now.getTime() / 1000)),
    resource: rate.resource,
    seenAt: rate.seenAt,
  };
}

function describeRateLimit(rate: RateLimitStatus | null, now: Date): string {
  if (!rate) return 'not seen yet';
  const budget = `${rate.remaining.toLocaleString('en-US')}/${rate.limit.toLocaleString('en-US')} left`;
  const seen = `${rate.resource}, seen ${ago(rate.seenAt, now)}`;
  const untilReset = Math.round(rate.resetAt - now.getTime() / 1000);
  if (untilReset <= 0) return `${budget} (${seen}); it has reset since`;
  return `${budget}, resets in ${formatDuration(untilReset)} (${seen})`;
}

const COLUMNS = [
  { title: 'VALID', width: 5, right: false },
  { title: 'LAST POLL', width: 10, right: false },
  { title: 'ISSUES', width: 6, right: true },
  { title: 'OPEN', width: 4, right: true },
  { title: 'PEND', width: 4, right: true },
  { title: 'RUN', width: 3, right: true },
  { title: 'DONE', width: 4, right: true },
  { title: 'DEAD', width: 4, right: true },
] as const;

/** Above this many repositories, the table shows only those that need a look. */
export const FULL_TABLE_UP_TO = 25;

/** The detection path column, shown once the fleet uses more than one path. */
const PATH_COLUMN = { title: 'PATH', width: 6, right: false } as const;

/** Paths with members: with one, the fleet line says it for every repository and the table needs no column. */
function pathsInUse(fleet: FleetStatus): number {
  return (['walk', 'stream', 'sweep', 'undecided'] as const).filter((path) => fleet.members.byPath[path] > 0).length;
}

/**
 * One row per repository, its cursor on the next line and, when its last poll
 * failed, the error on a third. A fleet of thousands shows only the repositories
 * with an error, a setup failure or a live job (at most FULL_TABLE_UP_TO), and
 * counts the rest: `status --json` lists every one. With `withPath`, a PATH
 * column after the name says how each is detected (names get 8 columns less).
 */
function repositoryTable(all: readonly RepositoryStatus[], now: Date, withPath = false): string[] {
  if (all.length === 0) return ['no repositories: list some under github.repositories or github.organizations'];
  const large = all.length > FULL_TABLE_UP_TO;
  const attention = large ? all.filter(needsLook) : all;
  const repositories = attention.slice(0, FULL_TABLE_UP_TO);
  const tail = large ? summariseRest(all.length, attention.length, repositories.length) : [];
  if (repositories.length === 0) return tail;
  const columns = withPath ? [PATH_COLUMN, ...COLUMNS] : COLUMNS;
  const nameWidth = Math.min(withPath ? 22 - PATH_COLUMN.width - 2 : 22, Math.max(10, ...repositories.map((r) => r.repository.length)));
  const row = (name: string, cells: readonly string[]) =>
    [pad(name, nameWidth), ...cells.map((cell, i) => pad(cell, columns[i]?.width ?? 0, columns[i]?.right))].join('  ').trimEnd();
  const lines = [row('REPOSITORY', columns.map((c) => c.title))];
  for (const repo of repositories) {
    const counts = [repo.issues.stored, repo.issues.open, repo.jobs.pending, repo.jobs.running, repo.jobs.done, repo.jobs.dead].map(String);
    const lastPoll = repo.lastPolledAt ? ago(repo.lastPolledAt, now) : 'never';
    // A name too long for its column gets a line of its own rather than losing its end.
    const cut = repo.repository.length > nameWidth;
    if (cut) lines.push(repo.repository);
    const cells = [repo.validated ? '✓' : '✗', lastPoll, ...counts];
    lines.push(row(cut ? '' : repo.repository, withPath ? [repo.detectionPath ?? '-', ...cells] : cells));
    lines.push(`  ${describeCursor(repo)}`);
    if (repo.setupError) lines.push(`  setup   failed ${ago(repo.setupError.at, now)}: ${oneLine(repo.setupError.error)}`);
    if (repo.backlog && repo.backlog.skipped > 0 && repo.backlog.cutoff) {
      lines.push(`  backlog ${repo.backlog.skipped} skipped: last updated before ${repo.backlog.cutoff.replace(/\.\d{3}Z$/, 'Z')}`);
    }
    if (repo.lastError) {
      const when = repo.lastErrorAt ? `${ago(repo.lastErrorAt, now)}: ` : '';
      lines.push(`  error   ${when}${oneLine(repo.lastError)}`);
    }
    if (!repo.configured && repo.source === 'configured') lines.push('  (no longer in the configuration)');
  }
  return [...lines, ...tail];
}

function needsLook(repo: RepositoryStatus): boolean {
  return (
    repo.lastError !== null ||
    repo.setupError !== null ||
    (repo.source === 'configured' && (!repo.validated || !repo.configured)) ||
    repo.jobs.pending + repo.jobs.running > 0
  );
}

function summariseRest(total: number, attention: number, shown: number): string[] {
  const lines: string[] = [];
  if (attention > shown) lines.push(`and ${count(attention - shown, 'more repository', 'more repositories')} with an error or a live job`);
  const fine = total - attention;
  if (fine > 0) lines.push(`${count(fine, 'repository', 'repositories')} with no error and no live job not listed`);
  lines.push('(`autosolve status --json` lists every repository)');
  return lines;
}

/**
 * The fleet, once it has anything to say (a discovered repository, a stream, a
 * detection path): members by source and path, drops, each stream's position.
 */
export function describeFleet(fleet: FleetStatus, now: Date): string[] {
  const { members, dropped, scopes } = fleet;
  const placed = members.total - members.byPath.undecided;
  if (members.bySource.discovered === 0 && dropped.count === 0 && scopes.length === 0 && placed === 0) return [];
  const indent = ' '.repeat(12);
  const paths = (['stream', 'sweep', 'walk', 'undecided'] as const)
    .filter((path) => members.byPath[path] > 0)
    .map((path) => `${number(members.byPath[path])} ${path}`);
  const lines = [
    `fleet       ${count(members.total, 'member', 'members')}: ${number(members.bySource.configured)} configured, ${number(members.bySource.discovered)} discovered`,
    ...(paths.length > 0 ? [`${indent}detection: ${paths.join(', ')}`] : []),
  ];
  if (dropped.count > 0) {
    lines.push(`${indent}${count(dropped.count, 'discovered repository', 'discovered repositories')} dropped${dropped.count > dropped.latest.length ? ', latest:' : ':'}`);
    for (const drop of dropped.latest) lines.push(`${indent}  ${drop.repository} ${ago(drop.droppedAt, now)}: ${oneLine(drop.reason ?? 'no reason recorded')}`);
  }
  for (const scope of scopes) {
    const { since, page, etag } = scope.cursor;
    lines.push(`stream      ${scope.scope}, ${scope.lastPolledAt ? `last pass ${ago(scope.lastPolledAt, now)}` : 'no pass completed yet'}`);
    lines.push(`${indent}cursor  since ${since ?? '(start)'}, page ${page}, etag ${etag ?? '-'}`);
    if (scope.lastError) lines.push(`${indent}error   ${scope.lastErrorAt ? `${ago(scope.lastErrorAt, now)}: ` : ''}${oneLine(scope.lastError)}`);
  }
  return lines;
}

/** Each path's verb in `detection`: how its members are looked at. */
const LOOKED_AT = { walk: 'walked', stream: 'its stream read', sweep: 'swept' } as const;

/**
 * The capacity projection the daemon stored: per path with members, how
 * often they are looked at, the projected p95 detection latency, what bounds
 * it and why they are on that path; then what the idle fleet costs an hour.
 * Reasons and advice are wrapped, not cut: their end says what to change.
 */
export function describeDetection(detection: DetectionStatus, now: Date): string[] {
  const indent = ' '.repeat(20);
  // The first line of a block starts with its label in the gutter; what follows is wrapped under it.
  const block = (label: string, text: string) =>
    wrap(oneLine(text), WIDTH - indent.length).map((line, i) => (i === 0 ? `${' '.repeat(12)}${pad(label, 8)}` : indent) + line);
  const lines = [`detection   projected ${ago(detection.projectedAt, now)}; p95: from an issue's update to its job`];
  const used = DETECTION_PATHS.filter((path) => detection.paths[path].members > 0);
  if (used.length === 0) lines.push(...block('', 'no repositories placed yet'));
  for (const path of used) {
    const p = detection.paths[path];
    lines.push(...block(path, `${count(p.members, 'repository', 'repositories')}, ${LOOKED_AT[path]} every ${p.interval}, p95 ${p.latency}`));
    lines.push(...block('', p.bound));
    if (p.reason) lines.push(...block('', `why: ${p.reason}`));
    if (path === 'stream') lines.push(...block('', `reconciled by a sweep every ${describeLatency(detection.reconcileIntervalMs)} at the most`));
  }
  const idle = detection.idlePerHour;
  const round = (n: number) => number(Math.round(n));
  lines.push(...block('idle', `per hour: ${round(idle.restRequests)} REST requests (${round(idle.restPrimary)} of them counted by the rate limit), ${round(idle.graphqlPoints)} GraphQL points`));
  return lines;
}

function describeCursor(repo: RepositoryStatus): string {
  if (!repo.validated) return 'not validated yet: `autosolve run` checks it before its first poll';
  if (!repo.cursor) return 'cursor  none yet: the first poll starts from the beginning';
  const { since, page, etag } = repo.cursor;
  return `cursor  since ${since ?? '(start)'}, page ${page}, etag ${etag ?? '-'}`;
}
