/**
 * Exit codes and how failures reach the terminal: user errors get one clear
 * message and no stack trace (unless debug logging is on).
 *
 *   0  success
 *   1  runtime failure (a preflight failed, the database cannot be used, ...)
 *   2  configuration or usage error
 *   3  `run --once`: the pass completed, but queue jobs went dead in it (answers failed for good)
 */
import { CommanderError } from 'commander';
import { ConfigError } from '../config/load.js';
import { describeError } from '../domain/failure.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** `run --once` finished its pass, but answers failed for good (queue jobs went dead): cron should alert. */
export const EXIT_JOBS_DEAD = 3;

/** A mistake in how the command was called; exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** An expected failure with a message written for the user; exit 1 unless told otherwise. */
export class UserFacingError extends Error {
  readonly exitCode: number;
  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UserFacingError';
    this.exitCode = options.exitCode ?? EXIT_FAILURE;
  }
}

/** Errors whose message is the whole story: the user's input or environment, not a bug. */
const USER_ERRORS = new Set(['ConfigError', 'UsageError', 'UserFacingError', 'DatabaseOpenError', 'SchemaTooNewError', 'SetupFailedError']);

let debugFromConfig = false;

/** Called once the configuration is loaded: `log.debug: true` also means stack traces. */
export function enableDebugOutput(): void {
  debugFromConfig = true;
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof ConfigError || error instanceof UsageError) return EXIT_USAGE;
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  if (error instanceof UserFacingError) return error.exitCode;
  return EXIT_FAILURE;
}

/** Writes the failure for a person; the stack only when debugging. */
export function reportError(error: unknown, debugRequested: boolean): void {
  const debug = debugRequested || debugFromConfig;
  if (error instanceof CommanderError) return; // commander already printed it
  const name = error instanceof Error ? error.name : '';
  if (USER_ERRORS.has(name) && !debug) {
    process.stderr.write(`autosolve: ${error instanceof Error ? error.message : String(error)}\n`);
    return;
  }
  if (debug && error instanceof Error) {
    process.stderr.write(`autosolve: ${error.stack ?? error.message}\n`);
    return;
  }
  process.stderr.write(`autosolve: ${describeError(error)}\n(set log.debug: true or AUTOSOLVE_LOG_DEBUG=true for a stack trace)\n`);
}
