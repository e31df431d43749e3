/**
 * When each repository was polled, as the simulator saw it: every answered
 * `GET /repos/{owner}/{name}/issues` (200 or 304), whichever daemon sent it.
 * With `github.fleet.detection: walk` that request is the repository's walk
 * (src/domain/fleet/paths.ts), so its gaps are the gaps in watching it.
 */
import type { Simulator } from '../../src/simulator/index.js';

const WALK = /^\/repos\/([^/]+\/[^/]+)\/issues$/;

export interface Gap {
  readonly repository: string;
  readonly ms: number;
  /** Epoch ms: the poll before the gap (or the window's start), and the one after (or the window's end). */
  readonly from: number;
  readonly to: number;
}

export class PollLog {
  readonly #polls = new Map<string, number[]>();
  readonly #listeners = new Set<() => void>();
  readonly #stop: () => void;

  constructor(sim: Simulator, repositories: readonly string[]) {
    for (const repository of repositories) this.#polls.set(repository.toLowerCase(), []);
    this.#stop = sim.onRequest((request) => {
      if (request.method !== 'GET' || (request.status !== 200 && request.status !== 304)) return;
      const match = WALK.exec(request.path);
      const times = match ? this.#polls.get((match[1] as string).toLowerCase()) : undefined;
      if (!times) return;
      times.push(request.startedAt);
      for (const listener of [...this.#listeners]) listener();
    });
  }

  /** Stops recording. */
  close(): void {
    this.#stop();
  }

  /** Polls of `repository` (epoch ms, in order received). */
  of(repository: string): readonly number[] {
    return this.#polls.get(repository.toLowerCase()) ?? [];
  }

  /** The repositories among `repositories` not polled after `since`. */
  notPolledSince(since: number, repositories: Iterable<string> = this.#polls.keys()): string[] {
    const waiting: string[] = [];
    for (const repository of repositories) {
      const times = this.of(repository);
      if (!(times.length > 0 && (times[times.length - 1] as number) > since)) waiting.push(repository);
    }
    return waiting;
  }

  /** Ms from `since` until every one of `repositories` had been polled after it; undefined while one has not. */
  allPolledAfter(since: number, repositories: Iterable<string>): number | undefined {
    let latest = since;
    for (const repository of repositories) {
      const first = this.of(repository).find((at) => at > since);
      if (first === undefined) return undefined;
      latest = Math.max(latest, first);
    }
    return latest - since;
  }

  /** When every repository had been polled at least once; undefined before. */
  coveredAt(): number | undefined {
    let latest = 0;
    for (const times of this.#polls.values()) {
      if (times.length === 0) return undefined;
      latest = Math.max(latest, times[0] as number);
    }
    return latest;
  }

  /** Resolves when `done()` holds, checked after each poll; rejects after `deadlineMs`, naming `what` and `detail()`. */
  until(what: string, done: () => boolean, deadlineMs: number, detail: () => string = () => ''): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!done()) return;
        finish();
        resolve();
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${deadlineMs} ms waiting for ${what} ${detail()}`));
      }, deadlineMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      this.#listeners.add(check);
    });
  }

  /**
   * Each repository's longest gap between polls that reaches into [from, to]:
   * from its last poll before `from` (or `from`) to `to`; longest first.
   */
  gaps(from: number, to: number): Gap[] {
    const gaps: Gap[] = [];
    for (const [repository, times] of this.#polls) {
      let previous = from;
      for (const at of times) if (at <= from) previous = at;
      let worst: Gap = { repository, ms: 0, from, to: from };
      for (const at of [...times.filter((t) => t > from && t <= to), to]) {
        if (at - previous > worst.ms) worst = { repository, ms: at - previous, from: previous, to: at };
        previous = at;
      }
      gaps.push(worst);
    }
    return gaps.sort((a, b) => b.ms - a.ms);
  }
}
