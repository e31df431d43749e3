/** GitHub's GraphQL schema (`@octokit/graphql-schema`), built once on the first query. */
import { readFileSync } from 'node:fs';
import { buildSchema, type GraphQLSchema } from 'graphql';

let schema: GraphQLSchema | undefined;

export function githubSchema(): GraphQLSchema {
  if (!schema) {
    // The package's index parses a 5 MB JSON copy on import; the SDL file beside it is all that is needed.
    const file = new URL('schema.graphql', import.meta.resolve('@octokit/graphql-schema'));
    // GitHub's published SDL declares a few fields twice (EnterpriseOwnerInfo), which graphql-js refuses to
    // validate; the types are otherwise sound, and queries are still validated against them.
    schema = buildSchema(readFileSync(file, 'utf8'), { assumeValidSDL: true });
  }
  return schema;
}
