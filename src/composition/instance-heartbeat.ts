/**
 * This daemon's entry in the instance registry, kept alive while it runs, and
 * the daemon's view of whether its database answers: a beat that fails marks
 * the database unreachable (not ready: nothing can be recorded, so nothing is
 * posted), the next that succeeds marks it back.
 */
import type { Log } from '../domain/ports.js';
import type { InstanceLostError, SqlInstanceRegistry } from '../infra/store/index.js';

/** How often a running daemon renews its registration, and when one on another host counts as gone. */
const INSTANCE_HEARTBEAT_MS = 5_000;
export const INSTANCE_STALE_MS = 30_000;

/**
 * Renews this daemon's registration while it runs; unregisters on close.
 * When the registration is gone (another daemon took it over), it stops
 * beating and calls `onLost` once: the daemon must stop, or two daemons work
 * one SQLite file.
 */
/** The database stopped answering this daemon's heartbeat. */
export interface DatabaseLoss {
  /** ISO time of the first failed beat. */
  readonly since: string;
  readonly error: string;
}

export class InstanceHeartbeat {
  readonly #timer: NodeJS.Timeout;
  #beating: Promise<void> = Promise.resolve();
  #loss: DatabaseLoss | null = null;

  constructor(
    private readonly instances: SqlInstanceRegistry,
    private readonly log: Log,
    private readonly path: string,
    private readonly onLost: (error: InstanceLostError) => void,
  ) {
    this.#timer = setInterval(() => {
      this.#beating = this.#beat();
    }, INSTANCE_HEARTBEAT_MS);
    this.#timer.unref();
  }

  /** Since when the database does not answer, or null while it does. */
  get databaseLoss(): DatabaseLoss | null {
    return this.#loss;
  }

  async #beat(): Promise<void> {
    try {
      const registered = await this.instances.heartbeat();
      if (this.#loss) {
        this.log.info({ since: this.#loss.since }, 'the database answers again');
        this.#loss = null;
      }
      if (!registered) {
        clearInterval(this.#timer);
        const error = await this.instances.lost(this.path);
        this.log.error({}, error.message);
        this.onLost(error);
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (!this.#loss) {
        this.#loss = { since: new Date().toISOString(), error: message };
        this.log.error({ error: message }, `the database does not answer; not ready until it does (checked every ${INSTANCE_HEARTBEAT_MS / 1000}s), and nothing is posted that cannot be recorded`);
      } else {
        this.log.warn({ error: message }, 'the database still does not answer; retrying');
      }
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#beating;
    try {
      await this.instances.unregister();
    } catch (error) {
      this.log.warn({ error: String(error) }, 'could not remove this daemon\'s registration from the database');
    }
  }
}
