/**
 * The dispatcher's pause, kept in the state table so that `autosolve status`
 * and `jobs show` (other processes) and the dashboard see it while it lasts.
 */
import type { Kysely } from 'kysely';
import { PAUSE_REASONS } from '../../domain/failure.js';
import type { DispatcherPause, PauseRecorder } from '../../domain/tasks/global/dispatch-failure.js';
import { SqlStateStore } from './repositories.js';
import type { Schema } from './schema.js';

/** Where the pause is stored (SqlStateStore key); `null` when the dispatcher is not paused. */
export const DISPATCHER_PAUSE_STATE_KEY = 'dispatcher.pause';

export class SqlPauseStore implements PauseRecorder {
  readonly #state: SqlStateStore;

  constructor(db: Kysely<Schema>) {
    this.#state = new SqlStateStore(db);
  }

  async record(pause: DispatcherPause | null): Promise<DispatcherPause | null> {
    const previous = await this.read();
    await this.#state.put(DISPATCHER_PAUSE_STATE_KEY, pause);
    return previous;
  }

  /** The pause as last recorded, or null when none is. */
  async read(): Promise<DispatcherPause | null> {
    const stored = await this.#state.get<Partial<DispatcherPause> | null>(DISPATCHER_PAUSE_STATE_KEY);
    const value = stored?.value;
    if (!value || typeof value.message !== 'string' || typeof value.since !== 'string') return null;
    const reason = PAUSE_REASONS.find((known) => known === value.reason);
    return reason === undefined ? null : { reason, message: value.message, since: value.since };
  }
}
