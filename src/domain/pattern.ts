/**
 * A regular expression from the configuration, run on issue text under a time
 * limit. JavaScript's engine backtracks: a pattern like `(a+)+$` on a long
 * title of `a`s runs for hours, and anyone can write the title. So every test
 * runs inside a `vm` context with a timeout, which V8 enforces by terminating
 * the match; a pattern that gives up counts as not matching and says so
 * (docs/decisions/012-rules-and-executors.md).
 */
import vm from 'node:vm';

/** Flags of every configured pattern: case-insensitive, like labels and names. */
export const PATTERN_FLAGS = 'i';

/**
 * How long one test may run, in wall-clock time. Default 1 s: a sane pattern on a whole issue body takes
 * well under 1 ms, but on a loaded machine the thread may wait for a core for tens of milliseconds (a
 * 50 ms limit was seen cutting `^\[question\]` off on two busy cores).
 */
export const PATTERN_TIMEOUT_MS = 1_000;

/** A pattern sees at most this much text: GitHub's own cap on an issue body. */
export const PATTERN_INPUT_CHARS = 65_536;

export type PatternResult =
  | { readonly kind: 'match' }
  | { readonly kind: 'no-match' }
  /** Ran out of time (or the engine refused the input): counted as not matching. */
  | { readonly kind: 'gave-up'; readonly reason: string };

export interface TimedPatternOptions {
  /** Default PATTERN_TIMEOUT_MS. */
  readonly timeoutMs?: number;
}

/**
 * One context and one compiled script for every pattern: creating a context
 * costs about a millisecond and some memory, running a script in it a few
 * microseconds plus the watchdog. Tests run one at a time (they are synchronous).
 */
interface Sandbox {
  pattern: RegExp | null;
  input: string;
}
const sandbox: Sandbox = vm.createContext({ pattern: null, input: '' }) as Sandbox;
const runTest = new vm.Script('pattern.test(input)', { filename: 'autosolve-pattern.vm' });

/** Why `source` is not a valid pattern, or undefined when it is. */
export function patternProblem(source: string): string | undefined {
  try {
    new RegExp(source, PATTERN_FLAGS);
    return undefined;
  } catch (error) {
    return (error instanceof Error ? error.message : String(error)).replace(/^Invalid regular expression: /, '');
  }
}

export class TimedPattern {
  readonly source: string;
  readonly timeoutMs: number;
  private readonly regex: RegExp;

  /** Throws a SyntaxError on an invalid pattern (the configuration rejects those first). */
  constructor(source: string, options: TimedPatternOptions = {}) {
    this.source = source;
    this.timeoutMs = options.timeoutMs ?? PATTERN_TIMEOUT_MS;
    // No `g` or `y`: test() then keeps no state between calls.
    this.regex = new RegExp(source, PATTERN_FLAGS);
  }

  /** `/source/i`, as the explanations show it. */
  toString(): string {
    return String(this.regex);
  }

  test(text: string): PatternResult {
    sandbox.pattern = this.regex;
    sandbox.input = text.length > PATTERN_INPUT_CHARS ? text.slice(0, PATTERN_INPUT_CHARS) : text;
    try {
      return runTest.runInContext(sandbox, { timeout: this.timeoutMs }) === true ? { kind: 'match' } : { kind: 'no-match' };
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return { kind: 'gave-up', reason: `gave up after ${this.timeoutMs} ms` };
      // A pattern the engine cannot run on this input (its backtrack stack overflowed): the same verdict.
      return { kind: 'gave-up', reason: `failed: ${error instanceof Error ? error.message : String(error)}` };
    } finally {
      sandbox.pattern = null;
      sandbox.input = '';
    }
  }
}
