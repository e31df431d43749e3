/**
 * The configuration schema: every key, its default and what it accepts.
 * A config written for the Go autosolve loads unchanged; keys it does not know
 * (`ai`, `scheduler`, `http`, `github.baseUrl`, ...) are optional additions.
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { duration, envVarName, existingFolder, httpUrl } from './schema-parts.js';
import { authorAssociation, executorsSchema, rulesSchema, type SettledRule } from './schema-rules.js';

/** `skip`, `answer`, or a window in milliseconds (`7d`). */
const backlogPolicy = z.union([z.string(), z.number()]).transform((value, ctx): 'skip' | 'answer' | number => {
  if (value === 'skip' || value === 'answer') return value;
  const ms = typeof value === 'number' ? (value === 0 ? 0 : undefined) : parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `expected skip, answer or a duration like 7d or 12h, got ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return ms;
});

const GITHUB_NAME = /^[A-Za-z0-9_.-]+$/;

const repositoryObject = z.strictObject({
  owner: z.string().regex(GITHUB_NAME, 'expected a GitHub owner (letters, digits, "-", "_", ".")'),
  name: z.string().regex(GITHUB_NAME, 'expected a repository name (letters, digits, "-", "_", ".")'),
});

/** `{ owner, name }`, or the short form `owner/name` people copy from GitHub's address bar. */
const repository = z.preprocess((value, ctx) => {
  if (typeof value !== 'string') return value;
  const [owner, name, ...rest] = value.trim().split('/');
  if (owner && name && rest.length === 0 && GITHUB_NAME.test(owner) && GITHUB_NAME.test(name)) return { owner, name };
  ctx.addIssue({ code: 'custom', message: `expected owner/name (e.g. acme/api) or { owner, name }, got ${JSON.stringify(value)}` });
  return z.NEVER;
}, repositoryObject);

/** Repository-name globs such as `api-*` or `*-service`: `*` any run of characters, `?` one character. */
const nameGlob = z.string().regex(/^[A-Za-z0-9_.*?-]+$/, 'expected a repository-name glob (letters, digits, "-", "_", ".", "*", "?")');

/** An organisation to watch whole: its name, or `{ name, include, exclude, topics }`. */
const organization = z
  .union([
    z.string().regex(GITHUB_NAME, 'expected an organisation name (letters, digits, "-", "_", ".")'),
    z.strictObject({
      name: z.string().regex(GITHUB_NAME, 'expected an organisation name (letters, digits, "-", "_", ".")'),
      /** Only repositories whose name matches one of these globs. Default: all. */
      include: z.array(nameGlob).default([]),
      /** Repositories whose name matches one of these globs are left out. Default: none. */
      exclude: z.array(nameGlob).default([]),
      /** Only repositories carrying every one of these topics. Default: no condition. */
      topics: z.array(z.string().min(1)).default([]),
    }),
  ])
  .transform((entry) => (typeof entry === 'string' ? { name: entry, include: [], exclude: [], topics: [] } : entry));

/** pino's levels, lowest first, as Node deployments set them (`silent`: no log lines at all). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const configSchema = z.strictObject({
  log: z
    .strictObject({
      /** Debug-level logs (unless `level` says otherwise) and stack traces. Default false. */
      debug: z.boolean().default(false),
      /** The lowest level written: trace, debug, info, warn, error, fatal or silent (any case). Default: debug when `debug` is true, else info. */
      level: z.preprocess((value) => (typeof value === 'string' ? value.trim().toLowerCase() : value), z.enum(LOG_LEVELS)).optional(),
      /** Add the source file to log lines (accepted from the Go config; pino has no cheap equivalent). Default false. */
      source: z.boolean().default(false),
      /** Readable coloured lines instead of JSON. Default: when stdout is a terminal. */
      terminal: z.boolean().optional(),
    })
    .prefault({})
    // One answer for everyone downstream: the level to log at, and whether to show stack traces.
    .transform(({ level, debug, ...rest }) => ({ debug: debug || level === 'debug' || level === 'trace', level: level ?? (debug ? 'debug' : 'info'), ...rest })),
  database: z
    .strictObject({
      /**
       * The SQLite file; its folder is created when missing. Default `autosolve.db`. The loader makes
       * a relative path absolute: against the config file's folder when it comes from the file (or is
       * the default and a file was read), against the working directory when it comes from the environment.
       */
      sqlitePath: z.string().min(1).default('autosolve.db'),
      /**
       * PostgreSQL instead of the SQLite file: `postgres://user:password@host:5432/database`, for several
       * daemons on one database. Falls back to DATABASE_URL. Default: none (SQLite).
       */
      url: z
        .string()
        .refine((value) => /^postgres(ql)?:\/\/[^\s]+$/.test(value) && URL.canParse(value), {
          // The value is not repeated: it may hold a password.
          error: 'expected a postgres://user:password@host:5432/database URL',
        })
        .optional(),
      /** PostgreSQL: most connections one daemon opens. Default 10. */
      poolSize: z.number().int().min(1).max(1000).default(10),
      /** PostgreSQL: a statement running longer is cancelled. Default 30s. */
      statementTimeout: duration(30_000, { positive: true }),
    })
    .prefault({}),
  github: z
    .strictObject({
      /** A token that can read the repositories' issues and write comments. Falls back to GITHUB_TOKEN. */
      token: z.string().default(''),
      /** API root. Default https://api.github.com; GitHub Enterprise Server: https://HOST/api/v3. */
      baseUrl: httpUrl.default('https://api.github.com'),
      /** The repositories to watch: `{ owner, name }` or `owner/name`. Names differing only in case are merged by the loader. */
      repositories: z.array(repository).default([]),
      /**
       * Organisations watched whole: every repository the token can see in each (archived ones
       * skipped), found again every discoveryInterval. A name, or `{ name, include, exclude, topics }`.
       */
      organizations: z.array(organization).default([]),
      /** How often the organisations' repositories are listed again. Default 1h. */
      discoveryInterval: duration(3_600_000, { positive: true }),
      fleet: z
        .strictObject({
          /**
           * How changes are found: `auto` (the daemon chooses per repository: an organisation's issue
           * stream, per-repository polls while they fit the budget, GraphQL sweeps beyond), or
           * `walk`, `stream`, `sweep` for every repository. Default auto.
           */
          detection: z.enum(['auto', 'walk', 'stream', 'sweep']).default('auto'),
          /** How often repositories found through streams or sweeps are checked in full; quiet ones less often. Default 30m. */
          reconcileInterval: duration(1_800_000, { positive: true }),
          /** Repositories walked at once. Default 8. */
          walkConcurrency: z.number().int().positive().default(8),
          /** Repositories per GraphQL sweep query to start with; it adapts to latency and errors. Default 40. */
          sweepBatch: z.number().int().min(1).max(100).default(40),
        })
        .prefault({}),
      /** Per-request timeout. Default 30s. */
      httpClientTimeout: duration(30_000, { positive: true }),
      rateLimit: z
        .strictObject({
          /** A fixed minimum gap between two requests, on top of the budgets below. Default 0 (the budgets pace). */
          minInterval: duration(0),
          /** Requests in flight at once (GitHub allows 100). Default 8. */
          maxConcurrent: z.number().int().positive().default(8),
          /** REST secondary-limit points spent per minute at most: a GET is 1, a write 5 (GitHub allows 900). Default 600. */
          pointsPerMinute: z.number().int().positive().default(600),
          /** GraphQL secondary-limit points per minute at most: a query is 1, a mutation 5 (GitHub allows 2,000). Default 1000. */
          graphqlPointsPerMinute: z.number().int().positive().default(1_000),
          /** GitHub's server time, estimated from response times, per minute at most (GitHub allows 90 s, 60 s of it GraphQL). Default 60s. */
          cpuPerMinute: duration(60_000, { positive: true }),
        })
        .prefault({}),
      issues: z
        .strictObject({
          /** How often each repository's issues are polled. Default 1m. */
          parseInterval: duration(60_000, { positive: true }),
          /** Only issues carrying this label (case-insensitive) are dispatched. Default: every issue. */
          requiredLabel: z.string().min(1).optional(),
          /**
           * Issues last updated before the repository's first sync: `skip` (recorded, never queued),
           * `answer`, or a duration such as `7d` (answer those updated within it before the first sync).
           * Default: `answer` when requiredLabel is set (someone asked for each of those), `skip` when not.
           */
          backlog: backlogPolicy.optional(),
          /** Re-analyse an answered issue whose title or body changed, editing our answer in place (at most ai.maxRevisionsPerIssue a day). Default true. */
          reanalyze: z.boolean().default(true),
        })
        .transform(({ backlog, ...issues }) => ({ ...issues, backlog: backlog ?? (issues.requiredLabel ? 'answer' : 'skip') }))
        .prefault({}),
    })
    .prefault({}),
  ollama: z
    .strictObject({
      /** Ollama's address. Default http://localhost:11434. */
      endpoint: httpUrl.default('http://localhost:11434'),
      /** The model to run. Default llama3.1. */
      model: z.string().min(1).default('llama3.1'),
    })
    .prefault({}),
  ai: z
    .strictObject({
      /** Which executor answers: ollama (default), openai (any compatible endpoint), command, or demo. */
      provider: z.enum(['ollama', 'openai', 'command', 'demo']).default('ollama'),
      /** How long one answer may take. Default 5m. */
      timeout: duration(300_000, { positive: true }),
      /** Failed attempts before a queue job is dead. Default 5. */
      maxAttempts: z.number().int().positive().default(5),
      /**
       * The lease of a claimed queue job: renewed every third of it while its worker lives, so it
       * may be shorter than ai.timeout; a job whose process died elsewhere comes back after it (on
       * the same host at once). Default 30s.
       */
      visibilityTimeout: duration(30_000, { positive: true }),
      /** Delay before a failed queue job's second attempt; doubles each attempt, up to 1h. Default 1m. */
      retryDelay: duration(60_000),
      /** Queue jobs in flight at once. Default 1. */
      concurrency: z.number().int().positive().default(1),
      /** Prompt template with {{repository}} {{number}} {{title}} {{body}} {{labels}} {{url}}. Default: a triage prompt. */
      prompt: z.string().min(1).optional(),
      /** Issue bodies longer than this are cut, with a note. Default 8000. */
      maxBodyChars: z.number().int().positive().default(8_000),
      /** Do everything but post; log the comment instead. Default false. */
      dryRun: z.boolean().default(false),
      /** The handle that asks for a follow-up in a comment (case-insensitive). Default @autosolve. */
      mention: z
        .string()
        .trim()
        .regex(/^@[A-Za-z0-9][A-Za-z0-9_-]*(?:\/[A-Za-z0-9][A-Za-z0-9_-]*)?$/, 'expected a handle such as @autosolve (an @ and a login or org/team)')
        .default('@autosolve'),
      /** author_association values whose mentions are answered (any case). Default OWNER, MEMBER, COLLABORATOR. */
      mentionFrom: z.array(authorAssociation).default(['OWNER', 'MEMBER', 'COLLABORATOR']),
      /** Revisions of one issue's answer per 24 hours; more edits wait for the window. Default 3. */
      maxRevisionsPerIssue: z.number().int('expected a positive whole number').positive('expected a positive whole number').default(3),
      openai: z
        .strictObject({
          /** Chat-completions API root. Default https://api.openai.com/v1. */
          baseUrl: httpUrl.default('https://api.openai.com/v1'),
          /** Model name; required with provider openai. */
          model: z.string().min(1).optional(),
          /** API key. Falls back to OPENAI_API_KEY. */
          apiKey: z.string().default(''),
        })
        .prefault({}),
      command: z
        .strictObject({
          /** argv of the program to run, spawned without a shell; required with provider command. */
          run: z.array(z.string().min(1)).min(1).optional(),
          /**
           * The only way a variable beyond PATH, HOME, LANG, LC_*, TZ and TMPDIR reaches the program,
           * e.g. ANTHROPIC_API_KEY; their values are also scrubbed from comments. Default: none.
           */
          passEnv: z.array(envVarName).default([]),
          /** Folder the program runs in (absolute, must exist), e.g. a checkout it may read. Default: a fresh temporary folder per run, removed afterwards. */
          cwd: existingFolder.optional(),
        })
        .prefault({}),
    })
    .prefault({}),
  scheduler: z
    .strictObject({
      /** How long preflights may retry node/service failures before start-up fails. Default 2m. */
      setupBudget: duration(120_000, { positive: true }),
      /** How long in-flight work may take to finish after SIGINT/SIGTERM. Default 30s. */
      shutdownGrace: duration(30_000),
    })
    .prefault({}),
  http: z
    .strictObject({
      /** Serve /healthz, /readyz, /metrics and the dashboard here, e.g. 127.0.0.1:9464. Default: off. */
      listen: z.string().regex(/^(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)?:?\d{1,5}$/, 'expected HOST:PORT or PORT').optional(),
    })
    .prefault({}),
  /**
   * Named executors, beside the one ai.provider & co. configure (named `default`): name →
   * { provider: ollama | openai | command | demo, its keys, timeout }. Default: none.
   */
  executors: executorsSchema,
  /** Ordered routing rules, `{ when, then }`; the first that matches decides. Default: none (every event answered by `default`). */
  rules: rulesSchema,
  /** Accepted from the Go config; not used yet. */
  otel: z.unknown().optional(),
});

/** The configuration as the schema gives it, before the loader settles paths and rules. */
export type ParsedConfig = z.output<typeof configSchema>;

/** The validated configuration: the schema's output with paths made absolute and prompt files read. */
export type Config = Omit<ParsedConfig, 'rules'> & { readonly rules: readonly SettledRule[] };
export type ConfigInput = z.input<typeof configSchema>;
