/**
 * Time assertions that hold on a slow or loaded machine. A test that checks
 * "promptly" compares what it measured with what would have happened without
 * the behaviour under test (the wait it cut short), never with a fixed number
 * of milliseconds tuned to one machine.
 */
import assert from 'node:assert/strict';

/**
 * Asserts that something finished in well under half of the time it would
 * have taken had it waited out `wouldHaveTakenMs` (a timeout, a held
 * request, a server's delay): a fault that waits it out fails, a loaded
 * machine that is merely slower does not.
 */
export function assertCutShort(elapsedMs: number, wouldHaveTakenMs: number, what: string): void {
  assert.ok(elapsedMs < wouldHaveTakenMs / 2, `${what}: took ${Math.round(elapsedMs)} ms of the ${wouldHaveTakenMs} ms it should have cut short`);
}
