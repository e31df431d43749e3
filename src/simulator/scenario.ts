/** Scenario files: seed data for the simulator in YAML or JSON, validated before anything starts. */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { SIM_AUTHOR_ASSOCIATIONS, type Scenario } from './types.js';

const timestamp = z
  .string()
  .refine((value) => /^\d{4}-\d{2}-\d{2}/.test(value) && !Number.isNaN(Date.parse(value)), {
    message: 'expected an ISO 8601 timestamp such as 2026-01-02T03:04:05Z',
  });
const login = z.string().min(1);
// GitHub allows letters, digits, '-', '_' and '.' in owner and repository names.
const repositoryName = z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, "-", "_" or "."');

const authorAssociation = z.enum(SIM_AUTHOR_ASSOCIATIONS);

/** A later time before an earlier one: `updatedAt` before `createdAt`. */
function notBeforeCreated(item: { createdAt?: string | undefined; updatedAt?: string | undefined }, context: z.RefinementCtx): void {
  if (item.createdAt && item.updatedAt && Date.parse(item.updatedAt) < Date.parse(item.createdAt)) {
    context.addIssue({ code: 'custom', path: ['updatedAt'], message: 'is before createdAt' });
  }
}

const commentSchema = z
  .strictObject({
    body: z.string(),
    user: login.exactOptional(),
    authorAssociation: authorAssociation.exactOptional(),
    bot: z.boolean().exactOptional(),
    createdAt: timestamp.exactOptional(),
    updatedAt: timestamp.exactOptional(),
  })
  .superRefine(notBeforeCreated);

const issueSchema = z
  .strictObject({
    title: z.string().min(1),
    body: z.string().nullable().exactOptional(),
    labels: z.array(z.string().min(1)).exactOptional(),
    user: login.exactOptional(),
    authorAssociation: authorAssociation.exactOptional(),
    state: z.enum(['open', 'closed']).exactOptional(),
    pullRequest: z.boolean().exactOptional(),
    createdAt: timestamp.exactOptional(),
    updatedAt: timestamp.exactOptional(),
    comments: z.array(commentSchema).exactOptional(),
  })
  .superRefine(notBeforeCreated);

const topic = z.string().regex(/^[a-z0-9][a-z0-9-]{0,49}$/, 'expected a GitHub topic: lower-case letters, digits and "-", at most 50');

const repositorySchema = z.strictObject({
  owner: repositoryName,
  name: repositoryName,
  private: z.boolean().exactOptional(),
  archived: z.boolean().exactOptional(),
  topics: z.array(topic).exactOptional(),
  issues: z.array(issueSchema).exactOptional(),
});

const positive = z.number().int().min(1);

const generatorSchema = z.strictObject({
  owner: repositoryName,
  count: positive.max(100_000),
  namePrefix: z.string().regex(/^[A-Za-z0-9_.-]*$/, 'expected letters, digits, "-", "_" or "."').exactOptional(),
  issuesPerRepository: z.number().int().min(0).max(1000).exactOptional(),
  archivedEvery: positive.exactOptional(),
  topics: z.array(topic).exactOptional(),
  pullRequestEvery: positive.exactOptional(),
  labels: z.array(z.string().min(1)).exactOptional(),
});

export const scenarioSchema = z
  .strictObject({
    tokens: z.array(z.string().min(1)).min(1).exactOptional(),
    repositories: z.array(repositorySchema).default([]),
    generate: z.array(generatorSchema).exactOptional(),
  })
  .superRefine((scenario, context) => {
    const seen = new Set<string>();
    scenario.repositories.forEach((repository, index) => {
      const key = `${repository.owner}/${repository.name}`.toLowerCase();
      if (seen.has(key)) {
        context.addIssue({ code: 'custom', path: ['repositories', index], message: `duplicate repository ${key}` });
      }
      seen.add(key);
    });
    // A generated name that a listed repository (or another generator) already uses.
    scenario.generate?.forEach((generator, index) => {
      const prefix = `${generator.owner}/${generator.namePrefix ?? 'repo-'}`.toLowerCase();
      const width = String(generator.count).length;
      for (const key of seen) {
        if (!key.startsWith(prefix)) continue;
        const rest = key.slice(prefix.length);
        if (rest.length === width && /^\d+$/.test(rest) && Number(rest) >= 1 && Number(rest) <= generator.count) {
          context.addIssue({ code: 'custom', path: ['generate', index], message: `generates ${key}, which already exists` });
          return;
        }
      }
      for (let n = 1; n <= generator.count && seen.size < 1_000_000; n++) {
        seen.add(`${prefix}${String(n).padStart(width, '0')}`);
      }
    });
  });

/** A scenario file that cannot be used; the message names the file and, when known, the field. */
export class ScenarioError extends Error {
  constructor(
    readonly file: string,
    readonly field: string | undefined,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`${file}: ${field ? `${field}: ` : ''}${detail}`, options);
    this.name = 'ScenarioError';
  }
}

function fieldPath(path: readonly PropertyKey[]): string {
  return path
    .map((key, index) => (typeof key === 'number' ? `[${key}]` : `${index === 0 ? '' : '.'}${String(key)}`))
    .join('');
}

/** The first problem zod found, as a field path and a sentence a person can act on. */
function describeIssue(issue: z.core.$ZodIssue): { field: string; detail: string } {
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    return { field: fieldPath([...issue.path, key]), detail: 'unknown field' };
  }
  const missing = issue.code === 'invalid_type' && / received undefined$/.test(issue.message);
  return {
    field: fieldPath(issue.path) || '(top level)',
    detail: missing ? `is required (${issue.message.replace(/^Invalid input: /, '')})` : issue.message,
  };
}

/** Validates a scenario given as data (from a file or from code). */
export function parseScenario(data: unknown, source = 'scenario'): Scenario {
  const result = scenarioSchema.safeParse(data);
  if (result.success) return result.data;
  const first = result.error.issues[0];
  if (!first) throw new ScenarioError(source, undefined, 'invalid scenario');
  const { field, detail } = describeIssue(first);
  const more = result.error.issues.length - 1;
  throw new ScenarioError(source, field, more > 0 ? `${detail} (and ${more} more problem(s))` : detail);
}

/** Reads a YAML or JSON (by extension .json) scenario file and validates it. */
export function loadScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new ScenarioError(file, undefined, `cannot read the file (${code})`, { cause: error });
  }
  let data: unknown;
  try {
    data = extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    const reason = error instanceof Error ? (error.message.split('\n')[0] ?? error.message) : String(error);
    throw new ScenarioError(file, undefined, `not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}: ${reason}`, {
      cause: error,
    });
  }
  return parseScenario(data, file);
}
