/** The token's rate-limit budget as last seen, for `status` (RATE_LIMIT_STATE_KEY in the state store). */
import type { Log } from '../domain/ports.js';
import { RATE_LIMIT_STATE_KEY, type SqlStateStore } from '../infra/store/index.js';

/** Keeps the latest rate-limit budget seen, written to the database at most every few seconds. */
export class RateLimitRecorder {
  #latest: unknown;
  #dirty = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly state: SqlStateStore,
    private readonly log: Log,
  ) {}

  seen(info: { limit: number; remaining: number; resetAt: number; resource: string }): void {
    this.#latest = info;
    this.#dirty = true;
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, 2_000).unref();
  }

  async flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#dirty) return;
    this.#dirty = false;
    try {
      await this.state.put(RATE_LIMIT_STATE_KEY, this.#latest);
    } catch (error) {
      this.log.warn({ error: String(error) }, 'could not record the rate-limit budget');
    }
  }
}
