/** This daemon's entry in the instance registry (one daemon per SQLite file), kept alive while it runs. */
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
export class InstanceHeartbeat {
  readonly #timer: NodeJS.Timeout;
  #beating: Promise<void> = Promise.resolve();

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

  async #beat(): Promise<void> {
    try {
      if (!(await this.instances.heartbeat())) {
        clearInterval(this.#timer);
        const error = await this.instances.lost(this.path);
        this.log.error({}, error.message);
        this.onLost(error);
      }
    } catch (error) {
      this.log.warn({ error: String(error) }, 'could not renew this daemon\'s registration in the database; retrying');
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
