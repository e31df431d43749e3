/**
 * Reuses the SQL Kysely compiles for hot, same-shaped statements (the sync's
 * multi-row upserts): building and compiling a 100-row insert costs as much as
 * running it. The SQL still comes from Kysely, for whichever dialect is in use;
 * only the parameters change between runs.
 */
import { CompiledQuery, type Compilable, type QueryResult } from 'kysely';

/** What the cache needs of a Kysely instance or transaction. */
export interface QueryExecutor {
  executeQuery<R>(query: CompiledQuery<R>): Promise<QueryResult<R>>;
}

export class StatementCache {
  readonly #sql = new Map<string, string>();

  /**
   * Runs `build()`'s query with `parameters`. The first run of a shape compiles
   * it and checks that `parameters` are exactly what Kysely bound; later runs of
   * the same `shape` reuse the SQL.
   */
  async execute<R>(db: QueryExecutor, shape: string, build: () => Compilable<R>, parameters: readonly unknown[]): Promise<QueryResult<R>> {
    const cached = this.#sql.get(shape);
    if (cached !== undefined) return db.executeQuery<R>(CompiledQuery.raw(cached, [...parameters]));
    const compiled = build().compile();
    if (sameParameters(compiled.parameters, parameters)) this.#sql.set(shape, compiled.sql);
    return db.executeQuery<R>(compiled);
  }
}

function sameParameters(bound: readonly unknown[], given: readonly unknown[]): boolean {
  return bound.length === given.length && bound.every((value, index) => Object.is(value, given[index]));
}
