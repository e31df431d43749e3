/**
 * The configuration of routing: named executors (`executors:`) and ordered
 * rules (`rules:`). What needs the whole configuration (which executors a rule
 * may name, prompt files next to the config file) is checked once the schema
 * passed, in rules-settle.ts.
 */
import { z } from 'zod';
import { patternProblem } from '../domain/pattern.js';
import { DEFAULT_EXECUTOR } from '../domain/rules.js';
import { durationText, envVarName, existingFolder, httpUrl } from './schema-parts.js';

/** GitHub's author_association values. */
export const AUTHOR_ASSOCIATIONS = ['OWNER', 'MEMBER', 'COLLABORATOR', 'CONTRIBUTOR', 'FIRST_TIME_CONTRIBUTOR', 'FIRST_TIMER', 'MANNEQUIN', 'NONE'] as const;

/** An author_association, in any letter case. */
export const authorAssociation = z.preprocess(
  (value) => (typeof value === 'string' ? value.trim().toUpperCase() : value),
  z.enum(AUTHOR_ASSOCIATIONS, { error: (issue) => `expected one of ${AUTHOR_ASSOCIATIONS.join(', ')}, got ${JSON.stringify(issue.input)}` }),
);

/** One value or a non-empty list of them; the output is always the list. */
function oneOrMany<T extends z.ZodType>(item: T) {
  return z.preprocess((value) => (Array.isArray(value) ? value : [value]), z.array(item).min(1, 'expected at least one value'));
}

/** Every executor may set how long one answer may take. Default: ai.timeout. */
const timeout = { timeout: durationText({ positive: true }).optional() };

const executor = z.discriminatedUnion(
  'provider',
  [
    z.strictObject({
      provider: z.literal('ollama'),
      /** Ollama's address. Default http://localhost:11434. */
      endpoint: httpUrl.default('http://localhost:11434'),
      /** The model. Default llama3.1. */
      model: z.string().min(1).default('llama3.1'),
      ...timeout,
    }),
    z.strictObject({
      provider: z.literal('openai'),
      /** Chat-completions API root. Default https://api.openai.com/v1. */
      baseUrl: httpUrl.default('https://api.openai.com/v1'),
      /** Required. */
      model: z.string().min(1),
      /** Falls back to OPENAI_API_KEY (like ai.openai.apiKey). Default: none. */
      apiKey: z.string().default(''),
      ...timeout,
    }),
    z.strictObject({
      provider: z.literal('command'),
      /** Required: argv, spawned without a shell. */
      run: z.array(z.string().min(1)).min(1),
      /** Variables handed to the program beyond the usual few; their values are scrubbed from comments. Default: none. */
      passEnv: z.array(envVarName).default([]),
      /** Folder it runs in (absolute, must exist). Default: a fresh temporary folder per run. */
      cwd: existingFolder.optional(),
      ...timeout,
    }),
    /** No model: a deterministic note computed from the issue (for trying rules out). */
    z.strictObject({ provider: z.literal('demo'), ...timeout }),
  ],
  { error: 'expected provider: ollama, openai, command or demo' },
);

export type NamedExecutorConfig = z.output<typeof executor>;

const EXECUTOR_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/**
 * `executors:` name → executor. `default` is reserved: it is the executor
 * ai.provider & co. configure (one place for it, so an old config keeps its meaning).
 */
export const executorsSchema = z
  .record(
    z
      .string()
      .regex(EXECUTOR_NAME, 'expected an executor name (letters, digits, "-", "_")')
      .refine((name) => name !== DEFAULT_EXECUTOR, {
        error: `the name "${DEFAULT_EXECUTOR}" is reserved for the executor ai.provider configures; configure it under ai:, or give this one another name`,
      }),
    executor,
  )
  .default({});

/** The keys each provider's entry takes, for "unknown key" messages. */
export const EXECUTOR_KEYS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  executor.options.map((option) => [option.shape.provider.value, Object.keys(option.shape)]),
);

const pattern = z
  .string()
  .min(1, 'expected a regular expression')
  .superRefine((source, ctx) => {
    const problem = patternProblem(source);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `invalid regular expression: ${problem}` });
  });

const label = z.string().trim().min(1, 'expected a label');

const repositoryGlob = z.string().regex(/^[A-Za-z0-9_.*?-]+\/[A-Za-z0-9_.*?-]+$/, 'expected an owner/name glob such as acme/* or */api');

const event = z.enum(['opened', 'edited', 'mention'], { error: (issue) => `expected opened, edited or mention, got ${JSON.stringify(issue.input)}` });

/** An inline template, or `{ file: path }` read at load (relative to the config file's folder). */
export type PromptSource = { readonly text: string } | { readonly file: string };

const prompt = z.unknown().transform((value, ctx): PromptSource => {
  if (typeof value === 'string' && value.trim() !== '') return { text: value };
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const { file, ...rest } = value as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (typeof file === 'string' && file.trim() !== '' && extra.length === 0) return { file };
    if (extra.length > 0) ctx.addIssue({ code: 'custom', message: `unknown key ${extra.map((k) => JSON.stringify(k)).join(', ')}: expected { file: path }` });
    else ctx.addIssue({ code: 'custom', path: ['file'], message: 'expected the path of a template file' });
    return z.NEVER;
  }
  ctx.addIssue({ code: 'custom', message: 'expected a template (text with {{title}}, {{body}}, ...) or { file: path }' });
  return z.NEVER;
});

const rule = z.strictObject({
  /** Every condition given must hold. Default: none, so the rule matches every event. */
  when: z
    .strictObject({
      /** A label or a list: any of them present (case-insensitive). Default: no condition. */
      label: oneOrMany(label).optional(),
      /** A label or a list: none of them present (case-insensitive). Default: no condition. */
      labelAbsent: oneOrMany(label).optional(),
      /** A JavaScript regular expression on the title, case-insensitive, run under a time limit. Default: no condition. */
      titleMatches: pattern.optional(),
      /** The same on the body (an empty body is ""). Default: no condition. */
      bodyMatches: pattern.optional(),
      /** owner/name globs (`*`, `?`, ignoring case): any of them. Default: no condition. */
      repository: oneOrMany(repositoryGlob).optional(),
      /** author_association values: the issue author's for opened/edited, the comment author's for mention. Default: no condition. */
      authorAssociation: oneOrMany(authorAssociation).optional(),
      /** opened, edited, mention, or a list. Default: every event. */
      event: oneOrMany(event).optional(),
    })
    .prefault({}),
  /** What the rule decides. Default: the executor `default` with the event's default prompt. */
  then: z
    .strictObject({
      /** Default `default`. */
      executor: z.string().min(1).optional(),
      /** Default: the event's default prompt (ai.prompt for an answer). */
      prompt: prompt.optional(),
      /** Stop here: no answer. Default false. */
      skip: z.boolean().default(false),
    })
    .superRefine((then, ctx) => {
      if (!then.skip) return;
      for (const key of ['executor', 'prompt'] as const) {
        if (then[key] !== undefined) ctx.addIssue({ code: 'custom', path: [key], message: 'a rule with skip: true answers nothing; remove this key, or skip' });
      }
    })
    .prefault({}),
});

/** `rules:` in order; the first that matches decides. Default: none (one implicit rule: every event, executor default). */
export const rulesSchema = z.array(rule).default([]);

export type ParsedRule = z.output<typeof rule>;

/** A rule once loaded: the executor named (default `default`), the prompt file read. */
export interface SettledRule {
  readonly when: ParsedRule['when'];
  readonly then: {
    readonly skip: boolean;
    /** Default `default`. */
    readonly executor: string;
    /** The template; undefined: the event's default prompt. */
    readonly prompt?: string;
    /** Where the template was read from (absolute), when it came from `{ file }`. */
    readonly promptFile?: string;
  };
}
