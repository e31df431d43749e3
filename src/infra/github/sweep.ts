/**
 * The sweep's GraphQL: one query asking many repositories for their newest
 * issue and pull request (one alias each, owner and name as variables, never
 * spliced into the text), and its answer read back into one outcome per
 * repository. GitHub answers a query with HTTP 200 even when parts of it
 * failed: per-alias errors stay with their repository; errors without data
 * fail the whole query.
 */
import { z } from 'zod';
import type { RepositoryRef } from '../../domain/entities.js';
import type { SweepOutcome } from '../../domain/fleet/types.js';

const NEWEST = '(first: 1, orderBy: {field: UPDATED_AT, direction: DESC}) { nodes { updatedAt } }';

export function sweepQuery(batch: readonly RepositoryRef[]): { query: string; variables: Record<string, string> } {
  const variables: Record<string, string> = {};
  const declarations: string[] = [];
  const selections: string[] = [];
  batch.forEach((repo, i) => {
    variables[`o${i}`] = repo.owner;
    variables[`n${i}`] = repo.name;
    declarations.push(`$o${i}: String!, $n${i}: String!`);
    selections.push(`r${i}: repository(owner: $o${i}, name: $n${i}) { issues${NEWEST} pullRequests${NEWEST} }`);
  });
  return { query: `query(${declarations.join(', ')}) { ${selections.join(' ')} rateLimit { cost remaining resetAt } }`, variables };
}

const timestamp = z.iso.datetime({ offset: true });
const connection = z.object({ nodes: z.array(z.object({ updatedAt: timestamp }).nullable()) });
const repositorySchema = z.object({ issues: connection, pullRequests: connection });
const errorSchema = z.object({ type: z.string().optional(), message: z.string().default(''), path: z.array(z.union([z.string(), z.number()])).optional() });
const bodySchema = z.object({ data: z.record(z.string(), z.unknown()).nullish(), errors: z.array(errorSchema).optional() });

export type GraphQLError = z.infer<typeof errorSchema>;

/** What came back: one outcome per repository (batch order), or the errors that failed the whole query. */
export type SweepAnswer = { readonly ok: true; readonly outcomes: SweepOutcome[] } | { readonly ok: false; readonly errors: readonly GraphQLError[] };

export function readSweep(body: unknown, batch: readonly RepositoryRef[]): SweepAnswer {
  const parsed = bodySchema.safeParse(body);
  if (!parsed.success) return { ok: false, errors: [{ message: 'the answer was not a GraphQL response' }] };
  const { data, errors = [] } = parsed.data;
  // No data at all: the query failed as a whole (a parse error, a limit, a timeout on GitHub's side).
  if (data === null || data === undefined) return { ok: false, errors: errors.length > 0 ? errors : [{ message: 'no data and no errors' }] };
  const outcomes = batch.map((_, i): SweepOutcome => {
    const alias = `r${i}`;
    const own = errors.find((error) => error.path?.[0] === alias);
    if (own !== undefined) return failure(own);
    const repository = repositorySchema.safeParse(data[alias]);
    if (!repository.success) return { ok: false, error: 'other', message: `GitHub's answer for ${alias} did not look like a repository` };
    const dates = [...repository.data.issues.nodes, ...repository.data.pullRequests.nodes]
      .map((node) => node?.updatedAt)
      .filter((at): at is string => at !== undefined);
    const latest = dates.reduce<string | null>((newest, at) => (newest === null || Date.parse(at) > Date.parse(newest) ? at : newest), null);
    return { ok: true, latestUpdatedAt: latest };
  });
  return { ok: true, outcomes };
}

function failure(error: GraphQLError): SweepOutcome {
  const kind = error.type === 'NOT_FOUND' ? 'not-found' : error.type === 'FORBIDDEN' ? 'forbidden' : 'other';
  return { ok: false, error: kind, message: error.message || error.type || 'GitHub reported an error' };
}
