/**
 * What `autosolve demo` shows: the live progress line, the outcome of the run
 * (checked against what the simulator, standing in for GitHub, now holds) and
 * the summary printed at the end.
 */
import type { App } from '../app.js';
import { fullName, type RepositoryRef } from '../domain/entities.js';
import { ANSWER_JOB, describeBacklogPolicy, FOLLOW_UP_JOB, REVISE_JOB, unansweredDecision, wantsAnswer } from '../domain/eligibility.js';
import { isAnswer, readMarker } from '../domain/marker.js';
import { SqlBacklogStore, SqlIssueCatalog, StatusReader, type QueueJobRecord, type RepositoryStatus } from '../infra/store/index.js';
import type { Simulator } from '../simulator/index.js';

// ---------------------------------------------------------------- progress

export interface ProgressCounts {
  readonly validated: number;
  readonly repositories: number;
  readonly issues: number;
  readonly jobsDone: number;
  readonly jobsTotal: number;
  readonly comments: number;
}

export function progressText(c: ProgressCounts): string {
  return (
    `repositories validated ${c.validated}/${c.repositories} · issues synced ${c.issues} · ` +
    `jobs done ${c.jobsDone}/${c.jobsTotal} · comments ${c.comments}`
  );
}

/**
 * One line rewritten in place on a terminal; on anything else (a pipe, a file,
 * CI) one plain line per change, because `\r` there only makes a mess.
 */
export class ProgressLine {
  #last = '';
  #open = false;

  constructor(private readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }) {}

  show(text: string): void {
    if (text === this.#last) return;
    this.#last = text;
    if (this.out.isTTY === true) {
      // A line wider than the terminal wraps, and \r then only rewinds its last part.
      // A pseudo-terminal may report 0 columns: take the classic 80 then.
      const columns = this.out.columns !== undefined && this.out.columns > 0 ? this.out.columns : 80;
      const width = Math.max(20, columns - 1);
      this.out.write(`\r${text.length > width ? `${text.slice(0, width - 1)}…` : text}\x1b[K`);
      this.#open = true;
    } else {
      this.out.write(`${text}\n`);
    }
  }

  /** Ends the in-place line so that what follows starts on a fresh one. */
  end(): void {
    if (this.#open) this.out.write('\n');
    this.#open = false;
  }
}

// ---------------------------------------------------------------- outcome

/** Our comments on one issue: answers (a revision edits one in place) and replies to mentions. */
interface Ours {
  readonly answers: number;
  readonly replies: number;
}

/** `owner/name#number` → the autosolve comments on it. */
export type MarkerCounts = ReadonlyMap<string, Ours>;

function issueKey(repository: string, number: number): string {
  return `${repository}#${number}`;
}

/** Our comments on one issue as the simulator holds them now. */
function oursOn(sim: Simulator, repo: RepositoryRef, number: number): Ours {
  const comments = sim.comments(repo.owner, repo.name, number);
  return {
    answers: comments.filter((c) => isAnswer(c.body)).length,
    replies: comments.filter((c) => readMarker(c.body)?.kind === 'reply').length,
  };
}

/** Autosolve comments per issue as the simulator holds them now; taken before the run to tell new comments from old. */
export function markerCounts(sim: Simulator, repositories: readonly RepositoryRef[]): MarkerCounts {
  const counts = new Map<string, Ours>();
  for (const repo of repositories) {
    for (const issue of sim.issues(repo.owner, repo.name)) counts.set(issueKey(fullName(repo), issue.number), oursOn(sim, repo, issue.number));
  }
  return counts;
}

export interface RepositoryOutcome {
  readonly repository: string;
  /** Issues (and pull requests) stored in the database. */
  readonly synced: number;
  /** Open, labelled, not a pull request: the issues that ask for an answer. */
  readonly eligible: number;
  /** Answer jobs that ended with a comment. */
  readonly answered: number;
  /** Revise jobs that edited an answer in place (the issue's title or body changed). Default 0. */
  readonly revised?: number;
  /** Follow-up jobs that replied to a mention. Default 0. */
  readonly replies?: number;
  /** Answer jobs skipped because an autosolve answer was already there. */
  readonly alreadyAnswered: number;
  /** Eligible issues left out by github.issues.backlog (older than the repository's first sync). */
  readonly backlog: number;
  /** New autosolve comments on GitHub (the simulator), answers and replies, counted there, not in our database. */
  readonly comments: number;
}

export interface ExampleComment {
  readonly repository: string;
  readonly number: number;
  readonly title: string;
  readonly issueUrl: string;
  /** The body exactly as the simulator stored it. */
  readonly body: string;
}

export interface DemoOutcome {
  readonly rows: readonly RepositoryOutcome[];
  readonly examples: readonly ExampleComment[];
  /** `owner/name#n “title”` of the issues skipped because an autosolve comment was already there. */
  readonly skipped: readonly string[];
  /** Issues that should have been answered and were not, or were commented on without reason. Empty on success. */
  readonly problems: readonly string[];
  /** github.issues.backlog as written (`skip`, `answer`, `7d`). */
  readonly backlogPolicy: string;
}

/** Reads what the run left, in the database and on the simulator, and checks it against what the seed asked for. */
export async function collectOutcome(
  app: App,
  sim: Simulator,
  repositories: readonly RepositoryRef[],
  before: MarkerCounts,
  requiredLabel: string | undefined,
): Promise<DemoOutcome> {
  const { backlog: policy, requiredLabel: label } = app.config.github.issues;
  const settings = { policy, requiredLabel: label, dryRun: app.config.ai.dryRun };
  const statuses = await new StatusReader(app.database.db).repositories(new Date(), repositories, settings);
  const jobs = await app.queue.list({ limit: 100_000 });
  const rows: RepositoryOutcome[] = [];
  const problems: string[] = [];
  const answeredJobs: QueueJobRecord[] = [];
  for (const repo of repositories) {
    const name = fullName(repo);
    const repoJobs = jobs.filter((job) => job.repository === name);
    const settled = (type: string, outcome: string) => repoJobs.filter((j) => j.type === type && j.outcome === outcome);
    const backlog = await backlogNumbers(app, statuses.find((s) => s.repository === name));
    let eligible = 0;
    let comments = 0;
    for (const issue of sim.issues(repo.owner, repo.name)) {
      const key = issueKey(name, issue.number);
      const earlier = before.get(key) ?? { answers: 0, replies: 0 };
      const now = oursOn(sim, repo, issue.number);
      const posted = now.answers - earlier.answers;
      const replied = now.replies - earlier.replies;
      comments += posted + replied;
      const wanted = wantsAnswer({ state: issue.state, isPullRequest: issue.pullRequest, labels: issue.labels }, requiredLabel) && !backlog.has(issue.number);
      if (wanted) eligible += 1;
      const hadAnswer = earlier.answers > 0;
      const job = settled(ANSWER_JOB, 'answered').find((j) => j.issueNumber === issue.number);
      if (wanted && !hadAnswer && (job === undefined || posted !== 1)) {
        problems.push(`${key} "${issue.title}" was not answered (${describeJobs(repoJobs.filter((j) => j.issueNumber === issue.number))}; ${posted} answers posted)`);
      } else if ((!wanted || hadAnswer) && posted > 0) {
        problems.push(`${key} "${issue.title}" got ${posted} answers but should have been left alone`);
      }
      const mentionsReplied = settled(FOLLOW_UP_JOB, 'answered').filter((j) => j.issueNumber === issue.number).length;
      if (replied !== mentionsReplied) problems.push(`${key} "${issue.title}" got ${replied} replies for ${mentionsReplied} mentions replied to`);
    }
    answeredJobs.push(...settled(ANSWER_JOB, 'answered').sort((a, b) => (a.issueNumber ?? 0) - (b.issueNumber ?? 0)));
    rows.push({
      repository: name,
      synced: statuses.find((s) => s.repository === name)?.issues.stored ?? 0,
      eligible,
      answered: settled(ANSWER_JOB, 'answered').length,
      revised: settled(REVISE_JOB, 'revised').length,
      replies: settled(FOLLOW_UP_JOB, 'answered').length,
      alreadyAnswered: settled(ANSWER_JOB, 'already-answered').length,
      backlog: backlog.size,
      comments,
    });
  }
  const skipped = jobs
    .filter((j) => j.type === ANSWER_JOB && j.outcome === 'already-answered')
    .sort((a, b) => a.id - b.id)
    .map((j) => `${j.repository}#${j.issueNumber ?? '?'} “${j.issueTitle ?? ''}”`);
  const backlogPolicy = describeBacklogPolicy(app.config.github.issues.backlog);
  return { rows, problems, skipped, backlogPolicy, examples: await examples(app, sim, answeredJobs) };
}

/** Numbers of the repository's issues github.issues.backlog leaves out, as `status` counts them. */
async function backlogNumbers(app: App, status: RepositoryStatus | undefined): Promise<Set<number>> {
  if (!status?.id || !status.backlog?.cutoff) return new Set();
  const cutoff = new Date(status.backlog.cutoff);
  const unanswered = await new SqlBacklogStore(app.database.db).unanswered(status.id);
  const { requiredLabel } = app.config.github.issues;
  const left = unanswered.filter((entry) => unansweredDecision(entry, cutoff, requiredLabel, app.config.ai.dryRun) === 'backlog');
  return new Set(left.map((entry) => entry.issue.number));
}

function describeJobs(jobs: readonly QueueJobRecord[]): string {
  if (jobs.length === 0) return 'no queue job';
  return jobs.map((j) => `job ${j.id} ${j.state}${j.outcome ? ` (${j.outcome})` : ''}${j.lastError ? `: ${j.lastError}` : ''}`).join(', ');
}

/** Two answered issues, from different repositories where possible, with the comment read back from the simulator. */
async function examples(app: App, sim: Simulator, answered: readonly QueueJobRecord[]): Promise<ExampleComment[]> {
  const firstPerRepository = answered.filter((job, index) => answered.findIndex((j) => j.repository === job.repository) === index);
  const chosen = [...firstPerRepository, ...answered.filter((job) => !firstPerRepository.includes(job))].slice(0, 2);
  const catalog = new SqlIssueCatalog(app.database.db);
  const found: ExampleComment[] = [];
  for (const job of chosen) {
    const record = await catalog.find(job.issueGithubId);
    if (!record) continue;
    const { owner, name } = record.repository;
    const posted = sim.comments(owner, name, record.issue.number).filter((c) => isAnswer(c.body)).at(-1);
    if (!posted) continue;
    found.push({ repository: fullName(record.repository), number: record.issue.number, title: record.issue.title, issueUrl: record.issue.htmlUrl, body: posted.body });
  }
  return found;
}

// ---------------------------------------------------------------- summary

export interface SummaryPlaces {
  readonly database: string;
  readonly config: string;
  readonly log: string;
  readonly requiredLabel: string;
  readonly elapsedMs: number;
}

export function renderSummary(outcome: DemoOutcome, places: SummaryPlaces): string {
  const lines: string[] = ['', `Summary (${(places.elapsedMs / 1000).toFixed(1)} s)`, ''];
  lines.push(...table(outcome.rows), '');
  lines.push('  issues:   synced into the database (pull requests and closed ones included)');
  lines.push(`  eligible: open issues labelled \`${places.requiredLabel}\`, pull requests excluded`);
  lines.push('  skipped:  an earlier autosolve comment was found, so nothing was posted');
  if (conversed(outcome.rows)) {
    lines.push('  revised:  answers edited in place after their issue\'s title or body changed');
    lines.push('  replies:  replies to mentions of @autosolve by trusted authors');
  }
  lines.push(`  comments: new autosolve comments on the simulated GitHub (answers${conversed(outcome.rows) ? ' and replies' : ''})`);
  const backlog = sum(outcome.rows, (r) => r.backlog);
  lines.push(`  backlog:  ${backlog} left out as older than the first sync (github.issues.backlog: ${outcome.backlogPolicy})`);
  if (backlog > 0) lines.push(`            set github.issues.backlog: ${outcome.backlogPolicy === 'skip' ? 'answer or 7d' : 'answer or a longer duration'} to answer them`);
  lines.push('');
  for (const skipped of outcome.skipped) lines.push(`Skipped ${skipped}:`, '  it already carried an autosolve comment, so it was not answered twice.', '');
  outcome.examples.forEach((example, index) => {
    lines.push(`Example comment ${index + 1} of ${outcome.examples.length}: ${example.repository}#${example.number} “${example.title}”`);
    lines.push(example.issueUrl);
    lines.push(...example.body.split('\n').map((line) => (line === '' ? '  │' : `  │ ${line}`)), '');
  });
  lines.push(`The database is ${places.database}`);
  lines.push(`(configuration: ${places.config}; daemon log: ${places.log})`);
  lines.push('Look at it with:');
  lines.push(`  autosolve status --config ${places.config}`);
  lines.push(`  autosolve jobs list --config ${places.config}`);
  return `${lines.join('\n')}\n`;
}

/** Whether any revision or reply happened: their columns are shown only then. */
function conversed(rows: readonly RepositoryOutcome[]): boolean {
  return rows.some((r) => (r.revised ?? 0) > 0 || (r.replies ?? 0) > 0);
}

function table(rows: readonly RepositoryOutcome[]): string[] {
  const total: RepositoryOutcome = {
    repository: 'total',
    synced: sum(rows, (r) => r.synced),
    eligible: sum(rows, (r) => r.eligible),
    answered: sum(rows, (r) => r.answered),
    revised: sum(rows, (r) => r.revised ?? 0),
    replies: sum(rows, (r) => r.replies ?? 0),
    alreadyAnswered: sum(rows, (r) => r.alreadyAnswered),
    backlog: sum(rows, (r) => r.backlog),
    comments: sum(rows, (r) => r.comments),
  };
  const width = Math.max(12, ...rows.map((r) => r.repository.length));
  const columns: Array<[string, (r: RepositoryOutcome) => number]> = [
    ['issues', (r) => r.synced],
    ['eligible', (r) => r.eligible],
    ['answered', (r) => r.answered],
    ...(conversed(rows)
      ? ([
          ['revised', (r) => r.revised ?? 0],
          ['replies', (r) => r.replies ?? 0],
        ] satisfies Array<[string, (r: RepositoryOutcome) => number]>)
      : []),
    ['skipped', (r) => r.alreadyAnswered],
    ['comments', (r) => r.comments],
  ];
  const names = columns.map(([name]) => name);
  const line = (first: string, cells: ReadonlyArray<string | number>) =>
    `  ${first.padEnd(width)}${cells.map((cell, i) => String(cell).padStart((names[i] ?? '').length + 2)).join('')}`;
  const row = (r: RepositoryOutcome) => line(r.repository, columns.map(([, pick]) => pick(r)));
  return [line('repository', names), ...rows.map(row), line('-'.repeat(width), names.map((n) => '-'.repeat(n.length))), row(total)];
}

function sum(rows: readonly RepositoryOutcome[], pick: (row: RepositoryOutcome) => number): number {
  return rows.reduce((total, row) => total + pick(row), 0);
}

// ---------------------------------------------------------------- live counts

/**
 * Keeps the counts behind the progress line. Observer callbacks fire inside
 * the daemon's passes; the database reads they trigger run one after another
 * and never overlap, and a burst of events costs one read.
 */
export class DemoProgress {
  readonly #validated = new Set<string>();
  #comments = 0;
  #counts = { issues: 0, jobsDone: 0, jobsTotal: 0 };
  #reader: StatusReader | undefined;
  #reads: Promise<void> = Promise.resolve();
  #readQueued = false;

  constructor(
    private readonly line: ProgressLine,
    private readonly repositories: number,
  ) {}

  /** The database to count from, once the app has opened it. */
  attach(reader: StatusReader): void {
    this.#reader = reader;
    this.#render();
  }

  repositoryValidated(job: string): void {
    this.#validated.add(job);
    this.#render();
  }

  /** Counted now, shown with the next read (the job settles right after). */
  commentPosted(): void {
    this.#comments += 1;
  }

  /** Re-reads issues and queue jobs from the database. */
  refresh(): void {
    if (this.#readQueued) return;
    this.#readQueued = true;
    this.#reads = this.#reads
      .then(async () => {
        this.#readQueued = false;
        await this.#read();
        this.#render();
      })
      // The line is cosmetic: a failed read must not fail the demo; the summary reads again.
      .catch(() => undefined);
  }

  /** Ends the progress line so that what follows starts on a fresh one. */
  end(): void {
    this.line.end();
  }

  /** Resolves when every read asked for so far is done; call before the database closes. */
  async settled(): Promise<void> {
    await this.#reads;
  }

  async #read(): Promise<void> {
    if (!this.#reader) return;
    const [repositories, queue] = await Promise.all([this.#reader.repositories(), this.#reader.queue()]);
    this.#counts = {
      issues: repositories.reduce((total, r) => total + r.issues.stored, 0),
      jobsDone: queue.done + queue.dead,
      jobsTotal: queue.pending + queue.running + queue.done + queue.dead,
    };
  }

  #render(): void {
    this.line.show(progressText({ validated: this.#validated.size, repositories: this.repositories, comments: this.#comments, ...this.#counts }));
  }
}
