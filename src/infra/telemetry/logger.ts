/**
 * Logging: pino, JSON lines when stdout is not a terminal, readable coloured
 * lines when it is (or when log.terminal says so). Every line written during a
 * pass carries the job name and, where there is one, the repository and issue
 * number, through the log context. Secrets are removed by pino's redaction, not
 * by hoping nobody logs them.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { pino, type Logger } from 'pino';
import { createRequire } from 'node:module';
import type PinoPretty from 'pino-pretty';

export interface LogContext {
  readonly job?: string;
  readonly repository?: string;
  readonly issue?: number;
}

const context = new AsyncLocalStorage<LogContext>();

/** Runs `work` with fields every log line inside it carries. Nested calls add to the outer context. */
export function withLogContext<T>(fields: LogContext, work: () => Promise<T>): Promise<T> {
  return context.run({ ...context.getStore(), ...fields }, work);
}

/** Paths pino removes from every line, wherever a secret could travel. */
export const REDACTED_PATHS = [
  'token',
  '*.token',
  'apiKey',
  '*.apiKey',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'request.headers.authorization',
  'config.github.token',
  'config.ai.openai.apiKey',
];

export interface LoggerOptions {
  /** Stack traces and field details on readable lines; the level too, unless `level` is given. */
  readonly debug: boolean;
  /** Readable lines instead of JSON. Default: whether the destination is a terminal. */
  readonly terminal?: boolean | undefined;
  /** Default: stdout. */
  readonly destination?: NodeJS.WritableStream & { isTTY?: boolean };
  /**
   * The lowest level written (`log.level` / `LOG_LEVEL`: trace, debug, info, warn, error, fatal,
   * silent; `silent` also for commands that print their own output). Default: debug when `debug` is set, else info.
   */
  readonly level?: pino.LevelWithSilent | undefined;
}

export function createLogger(options: LoggerOptions): Logger {
  const destination = options.destination ?? process.stdout;
  const readable = options.terminal ?? destination.isTTY === true;
  const level = options.level ?? (options.debug ? 'debug' : 'info');
  const base: pino.LoggerOptions = {
    level,
    base: null,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    mixin: () => ({ ...context.getStore() }),
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  if (!readable) return pino(base, pino.destination({ dest: fdOf(destination), sync: true }));
  // Loaded only for a terminal: a daemon writing JSON never needs it.
  const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
  return pino(
    base,
    pretty({
      colorize: true,
      sync: true,
      destination: fdOf(destination),
      translateTime: 'SYS:HH:MM:ss',
      ignore: 'pid,hostname',
      messageFormat: '{if job}[{job}] {end}{msg}',
      hideObject: !options.debug && level !== 'debug' && level !== 'trace',
    }),
  );
}

function fdOf(stream: NodeJS.WritableStream): number {
  const fd = (stream as { fd?: unknown }).fd;
  return typeof fd === 'number' ? fd : 1;
}
