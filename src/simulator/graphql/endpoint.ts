/**
 * POST /graphql: the body read, the query parsed and validated against GitHub's schema, its cost computed,
 * then executed against the simulator's model. Answers keep GitHub's shapes: HTTP 200 with `errors` for a
 * query GitHub refuses, `data` beside `errors` when only some fields failed, 400 for a body that is not JSON.
 */
import type {
  GraphQLError} from 'graphql';
import {
  execute,
  Kind,
  getOperationAST,
  getVariableValues,
  parse,
  validate,
  type DocumentNode,
  type ExecutionResult,
  type FragmentDefinitionNode,
  type OperationDefinitionNode,
} from 'graphql';
import { errors } from '../payloads.js';
import type { Reply } from '../route-kit.js';
import { queryCost, type QueryCost } from './cost.js';
import { queryRoot, type QueryContext } from './model.js';
import { githubSchema } from './schema.js';

const DOCS = 'https://docs.github.com/graphql';

/** A query ready to run, or the reply that refuses it before any point is spent. */
export type PreparedQuery =
  | { ok: false; reply: Reply }
  | ({
      ok: true;
      document: DocumentNode;
      operation: OperationDefinitionNode;
      variables: Record<string, unknown>;
      /** Mutations cost 5 secondary points, queries 1. */
      mutation: boolean;
    } & QueryCost);

function refused(errorList: unknown[]): { ok: false; reply: Reply } {
  return { ok: false, reply: { status: 200, body: { errors: errorList } } };
}

function located(error: GraphQLError) {
  return { message: error.message, ...(error.locations ? { locations: error.locations } : {}) };
}

export function prepareQuery(body: string): PreparedQuery {
  let request: unknown;
  try {
    request = JSON.parse(body);
  } catch {
    return { ok: false, reply: { status: 400, body: { ...errors.problemsParsingJson(), documentation_url: DOCS } } };
  }
  const { query, variables, operationName } = (typeof request === 'object' && request !== null ? request : {}) as {
    query?: unknown;
    variables?: unknown;
    operationName?: unknown;
  };
  if (typeof query !== 'string' || query.trim() === '') {
    return refused([{ message: 'A query attribute must be specified and must be a string.' }]);
  }
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch (error) {
    return refused([located(error as GraphQLError)]);
  }
  const schema = githubSchema();
  const invalid = validate(schema, document);
  if (invalid.length > 0) return refused(invalid.map(located));
  const operation = getOperationAST(document, typeof operationName === 'string' ? operationName : undefined);
  if (!operation) return refused([{ message: 'An operation name is required when the document holds several operations.' }]);
  const coerced = getVariableValues(
    schema,
    operation.variableDefinitions ?? [],
    typeof variables === 'object' && variables !== null ? (variables as Record<string, unknown>) : {},
  );
  if (coerced.errors) return refused(coerced.errors.map(located));
  const root = schema.getRootType(operation.operation);
  if (!root) return refused([{ message: `Schema is not configured for ${operation.operation}s.` }]);
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const cost = queryCost(operation, fragments, root, coerced.coerced, (name) => schema.getType(name) ?? undefined);
  if ('type' in cost) return refused([cost]);
  return {
    ok: true,
    document,
    operation,
    variables: coerced.coerced,
    mutation: operation.operation === 'mutation',
    ...cost,
  };
}

/** GitHub puts an error's `type` beside its message rather than in `extensions`. */
function githubError(error: GraphQLError) {
  const { type, ...extensions } = error.extensions as { type?: unknown };
  return {
    ...(type === undefined ? {} : { type }),
    ...(error.path ? { path: error.path } : {}),
    ...(Object.keys(extensions).length > 0 ? { extensions } : {}),
    ...(error.locations ? { locations: error.locations } : {}),
    message: error.message,
  };
}

export function runQuery(prepared: Extract<PreparedQuery, { ok: true }>, context: QueryContext): Reply {
  if (prepared.mutation) {
    return { status: 200, body: { errors: [{ type: 'FORBIDDEN', message: 'The simulator serves no mutations.' }] } };
  }
  const result = execute({
    schema: githubSchema(),
    document: prepared.document,
    operationName: prepared.operation.name?.value,
    rootValue: queryRoot(context),
    variableValues: prepared.variables,
  }) as ExecutionResult;
  if ('then' in result) throw new Error('the simulator resolves GraphQL synchronously');
  const body: Record<string, unknown> = { data: result.data ?? null };
  if (result.errors && result.errors.length > 0) body['errors'] = result.errors.map(githubError);
  return { status: 200, body };
}

/** GitHub's answer to a query its GraphQL budget cannot pay for: HTTP 200, RATE_LIMITED. */
export function rateLimitedReply(): Reply {
  return {
    status: 200,
    body: { errors: [{ type: 'RATE_LIMITED', message: 'API rate limit already exceeded for user ID 1.' }] },
  };
}
