/** The throttle's write history kept in the state store, so consecutive `run --once` invocations share one comment budget. */
import type { WriteHistory } from '../infra/github/index.js';
import type { Log } from '../domain/ports.js';
import type { SqlStateStore } from '../infra/store/index.js';

/** Where the write budget's recent history is kept (SqlStateStore key), so consecutive `run --once` share one budget. */
const WRITE_HISTORY_KEY = 'github.writeStarts';

export function writeHistoryIn(state: SqlStateStore, log: Log): WriteHistory {
  return {
    load: async () => {
      try {
        const stored = await state.get<unknown>(WRITE_HISTORY_KEY);
        return Array.isArray(stored?.value) ? stored.value.filter((at): at is number => typeof at === 'number') : [];
      } catch (error) {
        log.warn({ error: String(error) }, 'could not read the comment budget spent by earlier runs; counting from zero');
        return [];
      }
    },
    save: async (starts) => {
      try {
        await state.put(WRITE_HISTORY_KEY, starts);
      } catch (error) {
        log.warn({ error: String(error) }, 'could not record the comment budget spent; a restart may count from zero');
      }
    },
  };
}
