/**
 * The scale-out run (issue 11): three daemons, separate processes, on one
 * PostgreSQL schema and one simulator holding an organisation of 300
 * repositories, with labelled (and unlabelled) issues arriving over time. One
 * daemon is killed with SIGKILL and started again, another is stopped with
 * SIGTERM; then the issues stop, the daemons drain and stop.
 *
 * Shared by test/scale-out.test.ts (which asserts) and bench/scale-out.ts
 * (which prints the figures). Every step waits for something observable: a
 * daemon's "setup passed" line, the leases in the database, the polls and
 * comments the simulator saw. The rates are GitHub's compressed six times:
 * parseInterval 10 s instead of a minute, every per-minute budget six times
 * larger, on both sides (the daemons' and the simulator's).
 */
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { COMMENT_MARKER } from '../../src/domain/entities.js';
import type { SimBreach, SimIssueInput, Simulator } from '../../src/simulator/index.js';
import { tempDir, writeFile, type CliResult } from './cli.js';
import { DaemonGroup, HOSTNAME_MODULE, instanceOf, leasesByPid, registeredHosts, unitsOwnedBy } from './daemons.js';
import { daemonConfig, simulator, waitFor } from './daemon.js';
import { createSchema, dropSchema, schemaUrl } from './engines.js';
import { random } from './kill-campaign.js';
import { PollLog, type Gap } from './poll-log.js';

const LABEL = 'autosolve';
/**
 * How long a step whose outcome an assertion covers is waited for before the
 * run goes on without it: past the issue's bounds (30 s + the interval), short
 * enough that a run where every one of them fails still ends in about three minutes.
 */
const STEP_DEADLINE_MS = 40_000;
const DRAIN_DEADLINE_MS = 60_000;
const ORG = 'fleet';
/** GitHub's per-minute rates, this many times faster. */
export const TIME_SCALE = 6;
export const PARSE_INTERVAL_MS = 60_000 / TIME_SCALE;

/** Answers at once with the issue's name: the dispatcher's work without a model. */
const EXECUTOR = `const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
process.stdout.write('Answer for ' + input.repository + '#' + input.number);
`;

export interface ScaleOutOptions {
  /** The compiled CLI (see compileCli). */
  readonly main: string;
  /** Default 300. */
  readonly repositories?: number;
  /** Default 1. */
  readonly seed?: number;
  /** A new issue every this many ms while issues arrive. Default 1,500. */
  readonly arrivalMs?: number;
  /** Progress lines. */
  readonly log?: (line: string) => void;
}

/** How long until every repository a daemon held was polled by another. */
export interface Handover {
  /** Repositories the daemon held when it stopped (all of them when the database has no work leases). */
  readonly held: number;
  /** From the SIGKILL or SIGTERM until the last of them was polled after it (ms); null: not within STEP_DEADLINE_MS. */
  readonly ms: number | null;
  /** Whether `held` came from the work leases; false: every repository was waited for. */
  readonly fromLeases: boolean;
}

export interface ScaleOutResult {
  readonly repositories: number;
  /** Issues carrying the label at the end (must have exactly one marker each). */
  readonly labelled: number;
  readonly unlabelled: number;
  /** Issues with two or more marker comments. */
  readonly duplicates: readonly string[];
  /** Labelled issues without a marker comment. */
  readonly missing: readonly string[];
  /** Unlabelled issues with a marker comment. */
  readonly unwanted: readonly string[];
  /** The longest gaps between two polls of a repository in the watched window, longest first. */
  readonly gaps: readonly Gap[];
  readonly intervalMs: number;
  readonly killed: Handover & { readonly exit: CliResult };
  /** `stillOwned`: lease rows naming the stopped daemon right after it exited (null: unknown, no leases or no registration). */
  readonly stopped: Handover & { readonly exit: CliResult; readonly stillOwned: number | null };
  /** From the restart of the killed daemon until it held its share and had polled every one of it; null: not within STEP_DEADLINE_MS. */
  readonly rejoinedMs: number | null;
  readonly finalExits: readonly CliResult[];
  readonly breaches: readonly SimBreach[];
  readonly elapsedMs: number;
}

/** What is left to remove, for `after` when the run threw half-way. */
export interface ScaleOutResources {
  cleanup(): Promise<void>;
}

export async function runScaleOut(options: ScaleOutOptions, track: (resources: ScaleOutResources) => void = () => undefined): Promise<ScaleOutResult> {
  const started = Date.now();
  const progress: string[] = [];
  const say = (line: string): void => {
    const stamped = `${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s  ${line}`;
    progress.push(stamped);
    options.log?.(stamped);
  };
  let group: DaemonGroup | undefined;
  const count = options.repositories ?? 300;
  const rand = random(options.seed ?? 1);
  const width = String(count).length;
  const names = Array.from({ length: count }, (_, i) => `repo-${String(i + 1).padStart(width, '0')}`);
  const fullNames = names.map((name) => `${ORG}/${name}`);
  const dir = tempDir('autosolve-scale-out-');
  const schema = await createSchema();
  const url = schemaUrl(schema);
  const cleanups: Array<() => Promise<void> | void> = [() => dropSchema(schema), () => dir.cleanup()];
  let cleaned: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaned ??= (async () => {
      for (const step of cleanups.reverse()) await step();
    })());
  track({ cleanup });
  try {
    const sim = await simulator(
      names.map((name, i) => ({ owner: ORG, name, issues: seedIssues(i) })),
      {
        rateLimit: 5_000 * TIME_SCALE,
        // GitHub's documented secondary limits, per minute scaled like the intervals.
        secondaryLimits: { restPointsPerMinute: 900 * TIME_SCALE, maxConcurrent: 100, cpuMsPerMinute: 90_000 * TIME_SCALE },
        latency: { restMs: 5 },
      },
    );
    cleanups.push(() => sim.close());
    const polls = new PollLog(sim, fullNames);
    cleanups.push(() => polls.close());
    const script = writeFile(dir.path, 'executor.cjs', EXECUTOR);
    const config = daemonConfig(dir.path, sim, [], {
      log: { level: 'info' },
      database: { url, poolSize: 4 },
      github: {
        organizations: [ORG],
        issues: { parseInterval: `${PARSE_INTERVAL_MS}ms`, requiredLabel: LABEL },
        // Walked, so that each repository's polls are its own requests (auto would stream the organisation).
        fleet: { detection: 'walk' },
        rateLimit: { minInterval: '0s', pointsPerMinute: 600 * TIME_SCALE, cpuPerMinute: `${60 * TIME_SCALE}s` },
      },
      ai: { provider: 'command', command: { run: [process.execPath, script] }, timeout: '10s', visibilityTimeout: '5s', retryDelay: '1s' },
      scheduler: { setupBudget: '60s', shutdownGrace: '5s' },
    });
    // Each daemon on a host of its own, as far as it can tell: a killed one is taken over by its leases' TTL.
    const hostname = writeFile(dir.path, 'hostname.mjs', HOSTNAME_MODULE);
    const daemons = new DaemonGroup(config.file, { cwd: dir.path, main: options.main, env: { NODE_OPTIONS: `--import=${pathToFileURL(hostname).href}` } });
    const onHost = (name: string) => ({ SCALE_OUT_HOSTNAME: `host-${name}` });
    group = daemons;
    cleanups.push(() => daemons.killAll());
    const feed = new IssueFeed(sim, names, rand);
    cleanups.push(() => feed.stop());

    // 1. Three daemons, all working, the fleet shared out.
    for (const name of ['a', 'b', 'c']) daemons.start(name, onHost(name));
    await Promise.all(['a', 'b', 'c'].map((name) => daemons.working(name)));
    const hosts = await registeredHosts(url);
    if (hosts.join() !== 'host-a,host-b,host-c') throw new Error(`the daemons registered on hosts ${hosts.join(', ')}, not host-a, host-b and host-c: ${HOSTNAME_MODULE}`);
    say('three daemons working, on hosts of their own');
    feed.start(options.arrivalMs ?? 1_500);
    await waitFor('the fleet to be shared out among three daemons', () => shared(url, daemons, count), 60_000);
    await polls.until('every repository to be polled', () => polls.coveredAt() !== undefined, 60_000, () => `(${polls.notPolledSince(0).length} never polled)`);
    say('fleet shared out, every repository polled');

    // 2. kill -9 one; the others take its repositories over. (Waits an assertion covers do not throw: they come back null.)
    const killedHeld = await heldBy(url, daemons.get('a').pid, fullNames);
    const kill = await daemons.kill('a');
    say(`daemon a killed, holding ${killedHeld.repositories.length}`);
    const killed = { ...(await handover(polls, killedHeld, kill.killedAt, kill.goneAt)), exit: kill.result };
    say(`its repositories polled again after ${seconds(killed.ms)}`);

    // 3. It comes back and gets its share again.
    const back = daemons.start('a', onHost('a'));
    await daemons.working('a');
    let share: string[] = [];
    const hasShare = await reached(
      waitFor('the restarted daemon to hold its share', async () => {
        const held = await heldBy(url, back.pid, fullNames);
        share = held.repositories;
        return !held.fromLeases || held.repositories.length >= Math.floor(count / 3) ? true : undefined;
      }, STEP_DEADLINE_MS),
    );
    const rejoinedMs = hasShare && (await reached(polls.until('the restarted daemon\'s share to be polled', () => polls.allPolledAfter(back.startedAt, share) !== undefined, STEP_DEADLINE_MS)))
      ? Date.now() - back.startedAt
      : null;
    say(`daemon a back, holding ${share.length}, its share polled after ${seconds(rejoinedMs)}`);

    // 4. SIGTERM another: it releases its leases, the others take them at the next heartbeat.
    const stoppedHeld = await heldBy(url, daemons.get('b').pid, fullNames);
    const stoppedInstance = await instanceOf(url, daemons.get('b').pid);
    const termAt = Date.now();
    const termExit = await daemons.terminate('b');
    const stillOwned = stoppedInstance === undefined || !stoppedHeld.fromLeases ? null : await unitsOwnedBy(url, stoppedInstance);
    const stopped = { ...(await handover(polls, stoppedHeld, termAt, Date.now())), exit: termExit, stillOwned };
    say(`daemon b stopped (exit ${termExit.code}), holding ${stopped.held}; polled again after ${seconds(stopped.ms)}`);

    // 5. The issues stop; every labelled one is answered; the queue is empty.
    feed.stop();
    say(`issues stopped: ${feed.created} created`);
    const answered = await reached(waitFor('every labelled issue to be answered', () => Promise.resolve(tally(sim, names).missing.length === 0 ? true : undefined), DRAIN_DEADLINE_MS));
    const drained = answered && (await reached(waitFor('the queue to drain', async () => ((await openJobs(url)) === 0 ? true : undefined), STEP_DEADLINE_MS)));
    const windowEnd = Date.now();
    say(drained ? 'every labelled issue answered, the queue empty' : `gave up waiting: ${answered ? 'the queue did not drain' : `${tally(sim, names).missing.length} labelled issues unanswered`}`);

    // 6. The rest stop gracefully.
    const finalExits = await Promise.all(daemons.running().map((daemon) => daemons.terminate(daemon.name)));
    const covered = polls.coveredAt() as number;
    return {
      repositories: count,
      ...tally(sim, names),
      gaps: polls.gaps(covered, windowEnd),
      intervalMs: PARSE_INTERVAL_MS,
      killed,
      stopped,
      rejoinedMs,
      finalExits,
      breaches: sim.breaches(),
      elapsedMs: Date.now() - started,
    };
  } catch (error) {
    // What happened until then, and what each daemon said last: the failure explains itself.
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${message}\n\nprogress:\n${progress.join('\n')}\n\n${group?.tails() ?? ''}`, { cause: error });
  } finally {
    await cleanup();
  }
}

/**
 * The repositories a stopped daemon held, polled again: ms from `stoppedAt` until
 * the last of them was polled after `goneAt` (no request of the dead daemon
 * arrives after it was gone); null when that did not happen within STEP_DEADLINE_MS.
 */
async function handover(polls: PollLog, held: { repositories: string[]; fromLeases: boolean }, stoppedAt: number, goneAt: number): Promise<Handover> {
  const done = () => polls.allPolledAfter(goneAt, held.repositories);
  await reached(polls.until('the repositories to be polled by another daemon', () => done() !== undefined, STEP_DEADLINE_MS));
  const ms = done();
  return { held: held.repositories.length, fromLeases: held.fromLeases, ms: ms === undefined ? null : ms + goneAt - stoppedAt };
}

/** Whether the wait succeeded; its timeout is the caller's to report. */
async function reached(wait: Promise<unknown>): Promise<boolean> {
  try {
    await wait;
    return true;
  } catch {
    return false;
  }
}

function seconds(ms: number | null): string {
  return ms === null ? `more than ${STEP_DEADLINE_MS / 1000} s (gave up)` : `${(ms / 1000).toFixed(1)} s`;
}

/** A few issues waiting before the daemons start (answered as backlog), in every 20th repository. */
function seedIssues(index: number): SimIssueInput[] {
  if (index % 20 !== 0) return [];
  return [
    { title: `Old question ${index}`, body: 'Still broken.', labels: [LABEL] },
    { title: `Old note ${index}`, body: 'Just a note.', labels: index % 40 === 0 ? ['docs'] : [] },
  ];
}

/** New issues, one every `arrivalMs`: most labelled, some not, and now and then an unlabelled one gets the label. */
class IssueFeed {
  #timer: NodeJS.Timeout | undefined;
  #unlabelled: Array<{ name: string; number: number }> = [];
  created = 0;

  constructor(
    private readonly sim: Simulator,
    private readonly names: readonly string[],
    private readonly rand: () => number,
  ) {}

  start(arrivalMs: number): void {
    this.#timer = setInterval(() => this.#next(), arrivalMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #next(): void {
    const name = this.names[Math.floor(this.rand() * this.names.length)] as string;
    const labelled = this.rand() < 0.7;
    const issue = this.sim.addIssue(ORG, name, { title: `Bug ${this.created + 1}`, body: 'It breaks.', labels: labelled ? [LABEL] : [] });
    this.created++;
    if (!labelled) this.#unlabelled.push({ name, number: issue.number });
    if (this.created % 6 === 0) {
      const late = this.#unlabelled.shift();
      if (late) this.sim.updateIssue(ORG, late.name, late.number, { labels: [LABEL] });
    }
  }
}

/** Every running daemon holds at least floor(units / daemons) repositories; always true without work leases. */
async function shared(url: string, daemons: DaemonGroup, count: number): Promise<true | undefined> {
  const leases = await leasesByPid(url);
  if (!leases) return true;
  const running = daemons.running();
  const floor = Math.floor(count / running.length);
  return running.every((daemon) => (leases.get(daemon.pid)?.length ?? 0) >= floor) ? true : undefined;
}

async function heldBy(url: string, pid: number, all: readonly string[]): Promise<{ repositories: string[]; fromLeases: boolean }> {
  const leases = await leasesByPid(url);
  return leases ? { repositories: leases.get(pid) ?? [], fromLeases: true } : { repositories: [...all], fromLeases: false };
}

async function openJobs(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ open: string }>(`SELECT count(*) AS open FROM jobs WHERE state IN ('pending', 'running')`);
    return Number(result.rows[0]?.open ?? 0);
  } finally {
    await client.end();
  }
}

function tally(sim: Simulator, names: readonly string[]) {
  const duplicates: string[] = [];
  const missing: string[] = [];
  const unwanted: string[] = [];
  let labelled = 0;
  let unlabelled = 0;
  for (const name of names) {
    for (const issue of sim.issues(ORG, name)) {
      const markers = sim.comments(ORG, name, issue.number).filter((c) => c.body.includes(COMMENT_MARKER)).length;
      const wanted = issue.state === 'open' && issue.labels.some((l) => l.toLowerCase() === LABEL);
      const id = `${ORG}/${name}#${issue.number}`;
      if (wanted) labelled++;
      else unlabelled++;
      if (markers > 1) duplicates.push(id);
      if (wanted && markers === 0) missing.push(id);
      if (!wanted && markers > 0) unwanted.push(id);
    }
  }
  return { labelled, unlabelled, duplicates, missing, unwanted };
}
