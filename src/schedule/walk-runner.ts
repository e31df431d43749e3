/**
 * Runs the repository-scope work jobs (the walks: `work:issue-poller:owner/name`)
 * of a set of members that changes while it runs. A member with an interval is
 * walked at once and then every interval; one without waits for a nudge (a
 * detector saw it change). At most `concurrency` walks run at once, the member
 * due longest first, and a failed walk is retried exactly as the scheduler
 * retries any work job, never holding up the other members.
 *
 * Members wait in one heap by due time with one timer for the earliest, so a
 * fleet of 10,000 idle repositories costs an object each and one timer.
 */
import { DueQueue, type Queued } from './due-queue.js';
import type { Passes, ShutdownSignals } from './passes.js';
import type { WorkJob } from './planner.js';
import { ClassifiedBackoff } from './retry.js';

/** Time as the walk runner sees it; injectable so that tests need not wait. */
export interface WalkClock {
  now(): number;
  setTimer(callback: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export interface WalkRunnerOptions {
  readonly passes: Passes;
  /** Walks at once (github.fleet.walkConcurrency). Default 8. */
  readonly concurrency?: number;
  /** Default: Date.now-like `passes.now()` and the real timers. */
  readonly clock?: WalkClock;
}

/** What status shows of the walks. */
export interface WalkSnapshot {
  /** Members (repositories) walked. */
  readonly members: number;
  /** The jobs walking now. */
  readonly running: readonly string[];
  /** Walks due now, waiting for a free slot. */
  readonly dueNow: number;
  /** Walks waiting out the backoff of a failed pass. */
  readonly backingOff: number;
  /** When the next walk not yet due is due (epoch ms); none when nothing waits. */
  readonly nextDueAt?: number;
}

interface Member extends Queued {
  readonly key: string;
  job: WorkJob;
  intervalMs: number | null;
  running: boolean;
  /** Nudged since its last pass started: walk it (again) as soon as it may. */
  nudged: boolean;
  /** Removed while its pass ran: dropped when the pass ends. */
  removed: boolean;
  /** Queued for the retry of a failed pass: nudges do not bring it forward. */
  backingOff: boolean;
  /** Created at the first failure and dropped at the next success: idle members carry none. */
  backoff: ClassifiedBackoff | undefined;
  lastStarted: number | undefined;
}

/** The longest a timer can wait (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class WalkRunner {
  readonly #passes: Passes;
  readonly #concurrency: number;
  readonly #clock: WalkClock;
  /** By key; one member per repository-scope resource of the key (today one: the issue poller). */
  readonly #members = new Map<string, Member[]>();
  readonly #queue = new DueQueue<Member>();
  readonly #running = new Set<Member>();
  readonly #passesInFlight = new Set<Promise<void>>();
  #signals: ShutdownSignals | undefined;
  #timer: unknown;
  #timerAt: number | undefined;
  /** A bug after a pass (an observer threw): `run` rejects with it, as the scheduler's own loops do. */
  #fault: { error: unknown } | undefined;
  #stopRunning: (() => void) | undefined;

  constructor(options: WalkRunnerOptions) {
    const concurrency = options.concurrency ?? 8;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`walk concurrency must be a positive integer, got ${concurrency}`);
    this.#passes = options.passes;
    this.#concurrency = concurrency;
    this.#clock = options.clock ?? { now: () => options.passes.now(), setTimer: (callback, ms) => setTimeout(callback, ms), clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout) };
  }

  /**
   * Adds the member `key` (our repository id) with `job`, or replaces its job
   * and interval. With an interval it is walked at once (if it never was) and
   * then every interval, counted from its last start, so a changed interval
   * never walks it twice; with null only when nudged. A failed member keeps
   * waiting out its backoff.
   */
  upsert(key: string | number, job: WorkJob, intervalMs: number | null): void {
    if (intervalMs !== null && !(Number.isFinite(intervalMs) && intervalMs > 0)) {
      throw new RangeError(`walk ${job.name} has interval ${intervalMs}: give a positive number of milliseconds, or null to walk it only when nudged`);
    }
    const id = String(key);
    const members = this.#members.get(id) ?? [];
    let member = members.find((m) => m.job.resource === job.resource);
    if (member === undefined) {
      member = { key: id, job, intervalMs, running: false, nudged: false, removed: false, backingOff: false, backoff: undefined, lastStarted: undefined, dueAt: 0, order: 0, position: -1 };
      members.push(member);
      this.#members.set(id, members);
    }
    member.job = job;
    member.intervalMs = intervalMs;
    member.removed = false;
    // A running member is scheduled when its pass ends, a failed one when its backoff does.
    if (member.running || member.backingOff) return;
    const next = this.#nextDue(member);
    if (next === undefined) this.#queue.delete(member);
    else if (member.position < 0 || member.dueAt !== next) this.#queue.set(member, next);
    this.#pump();
  }

  /** Walks `key` no more; a walk in flight finishes (or is aborted by the shutdown). Returns whether it was a member. */
  remove(key: string | number): boolean {
    const id = String(key);
    const members = this.#members.get(id);
    if (members === undefined) return false;
    for (const member of members) {
      this.#queue.delete(member);
      member.removed = true;
    }
    const running = members.filter((m) => m.running);
    if (running.length === 0) this.#members.delete(id);
    else this.#members.set(id, running);
    this.#pump();
    return true;
  }

  /**
   * Walks `key` (only its job of `resource`, when given) as soon as a slot is
   * free; during its walk, once more after it. Nudges coalesce. A member
   * backing off after a failure waits its backoff out whatever nudges: the
   * backoff protects the backend. Returns whether it is a member.
   */
  nudge(key: string | number, resource?: string): boolean {
    const members = this.#members.get(String(key))?.filter((m) => !m.removed && (resource === undefined || m.job.resource === resource)) ?? [];
    if (members.length === 0) return false;
    const now = this.#clock.now();
    for (const member of members) {
      member.nudged = true;
      if (member.running || member.backingOff) continue;
      if (member.position < 0 || member.dueAt > now) this.#queue.set(member, now);
    }
    this.#pump();
    return true;
  }

  snapshot(): WalkSnapshot {
    const now = this.#clock.now();
    let members = 0;
    for (const list of this.#members.values()) members += list.filter((m) => !m.removed).length;
    let dueNow = 0;
    let backingOff = 0;
    let nextDueAt: number | undefined;
    for (const member of this.#queue.entries()) {
      if (member.backingOff) backingOff++;
      else if (member.dueAt <= now) dueNow++;
      if (member.dueAt > now && (nextDueAt === undefined || member.dueAt < nextDueAt)) nextDueAt = member.dueAt;
    }
    const running = [...this.#running].map((m) => m.job.name);
    return { members, running, dueNow, backingOff, ...(nextDueAt === undefined ? {} : { nextDueAt }) };
  }

  /**
   * Walks until `signal` aborts: no new walk then, and the walks in flight are
   * aborted by it (by `inFlight` for a job that drains); resolves when they
   * have ended.
   */
  async run(signal: AbortSignal, inFlight: AbortSignal = signal): Promise<void> {
    if (this.#signals !== undefined) throw new Error('the walk runner is already running');
    if (signal.aborted) return;
    this.#signals = { stop: signal, inFlight };
    this.#fault = undefined;
    const stopped = new Promise<void>((resolve) => (this.#stopRunning = resolve));
    const stop = () => this.#stopRunning?.();
    signal.addEventListener('abort', stop, { once: true });
    try {
      this.#pump();
      await stopped;
      this.#disarm();
      while (this.#passesInFlight.size > 0) await Promise.all(this.#passesInFlight);
    } finally {
      signal.removeEventListener('abort', stop);
      this.#signals = undefined;
      this.#stopRunning = undefined;
    }
    // A pass's `.catch` may have set it meanwhile, which the compiler cannot see.
    const fault = this.#fault as { error: unknown } | undefined;
    if (fault) throw fault.error;
  }

  /**
   * --once: one successful walk of every member with an interval and of every
   * member nudged, `concurrency` at once, each retrying network and
   * server-busy failures within the retry budget. Returns the jobs that
   * failed, in the order their members were added.
   */
  async once(signal: AbortSignal, inFlight: AbortSignal = signal): Promise<string[]> {
    if (this.#signals !== undefined) throw new Error('the walk runner is already running');
    const signals = { stop: signal, inFlight };
    const chosen = [...this.#members.values()].flat().filter((m) => !m.removed && (m.intervalMs !== null || m.nudged));
    const failed = new Set<Member>();
    let next = 0;
    const lane = async (): Promise<void> => {
      for (let member = chosen[next++]; member !== undefined && !signal.aborted; member = chosen[next++]) {
        this.#queue.delete(member);
        this.#begin(member);
        const outcome = await this.#passes.runUntilDone(member.job, signals, 'once');
        this.#end(member);
        if (outcome.error !== undefined) failed.add(member);
        // Should the runner go on after --once, the member keeps its place.
        const next = member.removed ? undefined : this.#nextDue(member);
        if (next !== undefined) this.#queue.set(member, next);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, chosen.length) }, lane));
    return chosen.filter((m) => failed.has(m)).map((m) => m.job.name);
  }

  /** When a member not running nor backing off is next due; undefined: when nudged. */
  #nextDue(member: Member): number | undefined {
    const now = this.#clock.now();
    if (member.nudged) return now;
    if (member.intervalMs === null) return undefined;
    if (member.lastStarted === undefined) return now;
    return Math.max(now, member.lastStarted + member.intervalMs);
  }

  /** Starts every due walk a slot is free for, then sets the one timer for the next. */
  #pump(): void {
    const signals = this.#signals;
    if (signals === undefined || signals.stop.aborted || this.#fault !== undefined) return;
    const now = this.#clock.now();
    for (let top = this.#queue.peek(); top !== undefined && top.dueAt <= now && this.#running.size < this.#concurrency; top = this.#queue.peek()) {
      this.#start(top, signals);
    }
    this.#arm(now);
  }

  #start(member: Member, signals: ShutdownSignals): void {
    this.#queue.delete(member);
    const job = member.job;
    const started = this.#begin(member);
    const walk: Promise<void> = this.#passes
      .pass(job, signals)
      .then((error) => this.#finished(member, job, started, error))
      .catch((error: unknown) => {
        this.#fault ??= { error };
        this.#disarm();
        this.#stopRunning?.();
      })
      .finally(() => this.#passesInFlight.delete(walk));
    this.#passesInFlight.add(walk);
  }

  #begin(member: Member): number {
    const started = this.#clock.now();
    member.running = true;
    member.nudged = false;
    member.backingOff = false;
    member.lastStarted = started;
    this.#running.add(member);
    return started;
  }

  #end(member: Member): void {
    member.running = false;
    this.#running.delete(member);
    if (!member.removed) return;
    const members = this.#members.get(member.key)?.filter((m) => m !== member) ?? [];
    if (members.length === 0) this.#members.delete(member.key);
    else this.#members.set(member.key, members);
  }

  #finished(member: Member, job: WorkJob, started: number, error: unknown): void {
    this.#end(member);
    if (member.removed) return this.#pump();
    if (this.#signals?.stop.aborted !== false) {
      // Cut short by the shutdown: not a failure, and walked first should the runner start again.
      if (member.intervalMs !== null || member.nudged) this.#queue.set(member, this.#clock.now());
      return;
    }
    if (error === undefined) {
      member.backoff = undefined;
      const next = member.nudged ? this.#clock.now() : member.intervalMs === null ? undefined : started + member.intervalMs;
      if (next !== undefined) this.#queue.set(member, next);
    } else {
      member.backoff ??= new ClassifiedBackoff(this.#passes.baseline);
      const delayMs = this.#passes.failedInWork(job, member.backoff, error);
      member.backingOff = true;
      this.#queue.set(member, this.#clock.now() + delayMs);
    }
    this.#pump();
  }

  /** One timer, for the earliest due walk; none while every slot is busy (a walk that ends pumps). */
  #arm(now: number): void {
    const top = this.#queue.peek();
    const at = top !== undefined && this.#running.size < this.#concurrency ? top.dueAt : undefined;
    if (at === this.#timerAt) return;
    this.#disarm();
    if (at === undefined) return;
    this.#timerAt = at;
    this.#timer = this.#clock.setTimer(
      () => {
        this.#timer = undefined;
        this.#timerAt = undefined;
        this.#pump();
      },
      Math.min(Math.max(0, at - now), MAX_TIMER_MS),
    );
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#timerAt = undefined;
  }
}
