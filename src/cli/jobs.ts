/** `autosolve jobs list | show ID | retry ID|--all|--state|--outcome`: the dispatch queue, dead jobs included. */
import { Command } from 'commander';
import { ANSWER_JOB } from '../domain/eligibility.js';
import { QUEUE_JOB_STATES, type QueueJobState } from '../domain/ports.js';
import { MAX_RELEASES } from '../domain/tasks/global/dispatch-failure.js';
import { HANDLED_OUTCOMES, RETRYABLE_OUTCOMES, SqlJobQueue, SqlPauseStore, type QueueJobRecord, type RetryableOutcome } from '../infra/store/index.js';
import { UsageError, UserFacingError } from './errors.js';
import { loadFor, openExistingDatabase, printJson, withConfigOption, type ConfigOption } from './shared.js';
import { ago, describePause, fit, oneLine, pad, WIDTH } from './status.js';

interface JsonOption extends ConfigOption {
  readonly json?: boolean;
}

interface ListOptions extends JsonOption {
  readonly state?: string;
  readonly limit?: string;
}

/** Jobs `jobs list` shows unless told otherwise. */
const DEFAULT_LIMIT = 50;

async function withQueue<T>(options: ConfigOption, work: (queue: SqlJobQueue, pauses: SqlPauseStore) => Promise<T>): Promise<T> {
  const { config } = loadFor(options, false);
  const database = await openExistingDatabase(config.database);
  try {
    return await work(new SqlJobQueue(database.db), new SqlPauseStore(database.db));
  } finally {
    await database.close();
  }
}

function parseState(value: string | undefined): QueueJobState | undefined {
  if (value === undefined) return undefined;
  const state = QUEUE_JOB_STATES.find((s) => s === value);
  if (!state) throw new UsageError(`jobs list: --state must be one of ${QUEUE_JOB_STATES.join(', ')} (got "${value}")`);
  return state;
}

function parsePositive(value: string, what: string): number {
  const number = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(number) || number < 1) throw new UsageError(`${what}: expected a positive whole number, got "${value}"`);
  return number;
}

async function mustGet(queue: SqlJobQueue, id: number): Promise<QueueJobRecord> {
  const job = await queue.get(id);
  if (!job) throw new UserFacingError(`no queue job ${id}`);
  return job;
}

export function jobsCommand(): Command {
  const jobs = new Command('jobs').description('inspect and retry queue jobs (the AI dispatch queue)');

  withConfigOption(jobs.command('list'))
    .description('list queue jobs, newest first')
    .option('--state <state>', `only jobs in this state: ${QUEUE_JOB_STATES.join(', ')}`)
    .option('--limit <n>', `at most this many jobs (default ${DEFAULT_LIMIT})`)
    .option('--json', 'JSON instead of a table')
    .action((options: ListOptions) => {
      const state = parseState(options.state);
      const limit = options.limit === undefined ? DEFAULT_LIMIT : parsePositive(options.limit, 'jobs list --limit');
      return withQueue(options, async (queue) => {
        const found = await queue.list({ ...(state ? { state } : {}), limit });
        if (options.json) return printJson(found);
        process.stdout.write(listTable(found, state, limit, new Date()));
      });
    });

  withConfigOption(jobs.command('show'))
    .argument('<id>', 'the queue job id (see `jobs list`)')
    .description('show one queue job: issue, state, attempts, next run, last error, outcome, payload')
    .option('--json', 'JSON instead of text')
    .action((id: string, options: JsonOption) => {
      const jobId = parsePositive(id, 'jobs show');
      return withQueue(options, async (queue, pauses) => {
        const job = await mustGet(queue, jobId);
        const pause = await pauses.read();
        if (options.json) return printJson({ ...job, dispatcherPause: pause });
        const now = new Date();
        // A waiting job waits for the pause to clear: say so, with the reason.
        const waiting = pause !== null && (job.state === 'pending' || job.state === 'running');
        process.stdout.write(describeJob(job, now) + (waiting ? `${describePause(pause, now).join('\n')}\n` : ''));
      });
    });

  withConfigOption(jobs.command('retry'))
    .argument('[id]', 'the queue job id (see `jobs list --state dead`)')
    .description('give a dead, waiting or unanswered done job (dry run) a fresh set of attempts and make it visible now; or many at once with --all, --state, --outcome')
    .option('--all', 'every dead job and every done job that posted nothing (dry-run, not-eligible)')
    .option('--state <state>', 'only jobs in this state: dead or done')
    .option('--outcome <outcome>', `only done jobs with this outcome: ${RETRYABLE_OUTCOMES.join(', ')}`)
    .option('--json', 'JSON instead of text')
    .action((id: string | undefined, options: RetryOptions) => {
      if (id === undefined) return retryMany(options);
      if (options.all || options.state !== undefined || options.outcome !== undefined) {
        throw new UsageError('jobs retry: give a job id or filters (--all, --state, --outcome), not both');
      }
      const jobId = parsePositive(id, 'jobs retry');
      return withQueue(options, async (queue) => {
        const before = await mustGet(queue, jobId);
        refuseRetry(before);
        // The daemon may claim it between the read and the update: retry() only
        // touches a dead, pending or unanswered done row, so read what happened instead of assuming.
        const retried = await queue.retry(jobId);
        const after = await mustGet(queue, jobId);
        if (!retried) refuseRetry(after);
        if (!retried && (after.state === 'done' || after.state === 'dead')) {
          const what = after.subjectId === 0 ? 'issue' : subject(after);
          throw new UserFacingError(`queue job ${jobId} was not retried: its ${what} has another waiting ${after.type} job or was answered since (see \`jobs list\`)`);
        }
        if (options.json) return printJson({ retried, previousState: before.state, job: after });
        process.stdout.write(
          `queue job ${jobId} (${targetWithType(after)}): ${before.state === after.state ? `still ${after.state}` : `${before.state} → ${after.state}`}, ` +
            `attempts ${before.attempts}/${before.maxAttempts} → ${after.attempts}/${after.maxAttempts}, visible now\n`,
        );
      });
    });
  return jobs;
}

interface RetryOptions extends JsonOption {
  readonly all?: boolean;
  readonly state?: string;
  readonly outcome?: string;
}

/** `jobs retry --all | --state dead|done | --outcome dry-run`: filters combine. */
function retryMany(options: RetryOptions): Promise<void> {
  if (!options.all && options.state === undefined && options.outcome === undefined) {
    throw new UsageError('jobs retry: give a job id, or --all, --state dead|done, --outcome dry-run');
  }
  const states = options.state === undefined ? (['dead', 'done'] as const) : [parseRetryState(options.state)];
  const outcome = options.outcome === undefined ? undefined : parseRetryOutcome(options.outcome);
  return withQueue(options, async (queue) => {
    const ids = await queue.retryMatching(outcome ? { states, outcome } : { states });
    if (options.json) return printJson({ retried: ids.length, ids });
    const what = [options.state ? `state ${options.state}` : 'dead or done', ...(outcome ? [`outcome ${outcome}`] : [])].join(', ');
    const jobsWord = ids.length === 1 ? 'queue job' : 'queue jobs';
    process.stdout.write(`retried ${ids.length} ${jobsWord} (${what})${ids.length > 0 ? ': pending with fresh attempts, visible now' : ''}\n`);
  });
}

function parseRetryState(value: string): 'dead' | 'done' {
  if (value === 'dead' || value === 'done') return value;
  throw new UsageError(`jobs retry: --state must be dead or done (got "${value}"); a pending job is retried by its id`);
}

function parseRetryOutcome(value: string): RetryableOutcome {
  const outcome = RETRYABLE_OUTCOMES.find((o) => o === value);
  if (outcome) return outcome;
  if ((HANDLED_OUTCOMES as readonly string[]).includes(value)) {
    throw new UsageError(`jobs retry: --outcome ${value}: those issues carry an autosolve comment and are never answered twice`);
  }
  if (value === 'backlog') {
    throw new UsageError('jobs retry: --outcome backlog: github.issues.backlog decides those; set it to answer or a longer duration (e.g. 30d) and restart');
  }
  if (value === 'revised' || value === 'current') {
    throw new UsageError(`jobs retry: --outcome ${value}: those revisions are done; the next edit of the issue's title or body revises its answer again`);
  }
  if (value === 'skipped') {
    throw new UsageError('jobs retry: --outcome skipped: a rule (rules: ... skip: true) decided those; change the rule and the next change of the issue is routed again');
  }
  throw new UsageError(`jobs retry: --outcome must be one of ${RETRYABLE_OUTCOMES.join(', ')} (got "${value}")`);
}

function refuseRetry(job: QueueJobRecord): void {
  if (job.state === 'done' && job.outcome === 'backlog') {
    throw new UserFacingError(
      `queue job ${job.id} was settled as backlog: github.issues.backlog leaves its issue out; set it to answer or a longer duration and restart`,
    );
  }
  if (job.state === 'done' && !(RETRYABLE_OUTCOMES as readonly (string | null)[]).includes(job.outcome)) {
    throw new UserFacingError(`queue job ${job.id} is done (outcome ${job.outcome ?? 'unknown'}): there is nothing to retry`);
  }
  if (job.state === 'running') {
    const until = job.lockedUntil ? ` until ${job.lockedUntil}` : '';
    throw new UserFacingError(`queue job ${job.id} is running (claimed${until}): wait for it to finish, fail or time out`);
  }
}

function target(job: QueueJobRecord): string {
  return job.issueNumber === null ? `${job.repository}, issue id ${job.issueGithubId}` : `${job.repository}#${job.issueNumber}`;
}

/** The issue, and what the job does about it when it is not its answer: `acme/api#2, revise`, `acme/api#2, follow-up to comment 123`. */
function targetWithType(job: QueueJobRecord): string {
  if (job.type === ANSWER_JOB) return target(job);
  return `${target(job)}, ${job.type}${job.subjectId === 0 ? '' : ` to ${subject(job)}`}`;
}

/** The comment a job is about (a follow-up's mention). */
function subject(job: QueueJobRecord): string {
  return `comment ${job.subjectId}`;
}

/** Pending: when it becomes visible; running: when it was claimed; done or dead: when it ended. */
function when(job: QueueJobRecord, now: Date): string {
  if (job.state === 'pending') return Date.parse(job.runAfter) <= now.getTime() ? 'now' : ago(job.runAfter, now);
  if (job.state === 'running') return ago(job.updatedAt, now); // when it was claimed
  return ago(job.finishedAt ?? job.updatedAt, now);
}

function listTable(found: readonly QueueJobRecord[], state: QueueJobState | undefined, limit: number, now: Date): string {
  if (found.length === 0) return `no ${state ? `${state} ` : ''}queue jobs\n`;
  const idWidth = Math.max(2, ...found.map((j) => String(j.id).length));
  const targets = found.map(target);
  const targetWidth = Math.min(28, Math.max(5, ...targets.map((t) => t.length)));
  // The outcome tells a dry run (or a skipped issue) from an answer: all of them are `done`. Only
  // done jobs have one: a list without any keeps the width for the error.
  const outcomeWidth = found.some((j) => j.outcome !== null) ? Math.max(7, ...found.map((j) => (j.outcome ?? '-').length)) : 0;
  const outcome = (text: string): string[] => (outcomeWidth > 0 ? [pad(text, outcomeWidth)] : []);
  const header = [pad('ID', idWidth, true), pad('STATE', 7), ...outcome('OUTCOME'), pad('TRIES', 5), pad('WHEN', 10), pad('ISSUE', targetWidth), 'TITLE / LAST ERROR'];
  const lines = [header.join('  ')];
  found.forEach((job, i) => {
    // A failing job's error says more than its title. What the job does comes first unless it
    // answers the issue: `revise: `, or the comment a follow-up replies to (a column would
    // leave too little of 80 for the title).
    const about = job.subjectId !== 0 ? `${subject(job)}: ` : job.type === ANSWER_JOB ? '' : `${job.type}: `;
    const detail = about + (job.lastError && job.state !== 'done' ? oneLine(job.lastError) : (job.issueTitle ?? ''));
    const cells = [
      pad(String(job.id), idWidth, true),
      pad(job.state, 7),
      ...outcome(job.outcome ?? '-'),
      pad(`${job.attempts}/${job.maxAttempts}`, 5),
      pad(fit(when(job, now), 10), 10),
      pad(fit(targets[i] ?? '', targetWidth), targetWidth),
      detail,
    ];
    lines.push(fit(cells.join('  ').trimEnd(), WIDTH));
  });
  if (found.length === limit) lines.push(`(the newest ${limit}; --limit N for more)`);
  return lines.join('\n') + '\n';
}

function describeJob(job: QueueJobRecord, now: Date): string {
  const at = (iso: string | null) => (iso ? `${iso} (${ago(iso, now)})` : '-');
  const nextRun = job.state === 'pending' ? at(job.runAfter) : job.state === 'running' ? `claimed until ${at(job.lockedUntil)}` : '-';
  const fields: Array<[string, string]> = [
    ['state', job.state],
    ['type', job.type],
    ...(job.subjectId === 0 ? [] : [['subject', subject(job)] as [string, string]]),
    ['repository', job.repository],
    ['issue', job.issueNumber === null ? `not stored (GitHub id ${job.issueGithubId})` : `#${job.issueNumber} ${job.issueTitle ?? ''}`.trimEnd()],
    ['attempts', `${job.attempts}/${job.maxAttempts}`],
    ...(job.releases > 0 ? [['releases', `${job.releases}/${MAX_RELEASES} (the backend failed on this issue while it answered others)`] as [string, string]] : []),
    ['next run', nextRun],
    ['last error', job.lastError ?? '-'],
    ['outcome', job.outcome ?? '-'],
    ['comment', job.commentUrl ?? '-'],
    ['scrubbed', job.scrubbed > 0 ? `${job.scrubbed} secret-looking strings removed before posting` : 'none'],
    ['created', at(job.createdAt)],
    ['updated', at(job.updatedAt)],
    ['finished', at(job.finishedAt)],
    ['payload', JSON.stringify(job.payload)],
  ];
  const label = 12;
  const body = fields.map(([name, value]) => `  ${pad(name, label)}${indentContinuation(value, label + 2)}`);
  return [`queue job ${job.id}`, ...body].join('\n') + '\n';
}

/** Multi-line values (an error's stderr tail) stay aligned under their label. */
function indentContinuation(value: string, indent: number): string {
  return value.replace(/\r?\n/g, `\n${' '.repeat(indent)}`);
}
