/**
 * Reading the configuration schema as data: which keys exist and what each
 * accepts. The environment overrides and the "did you mean" hints are derived
 * from it, so a new key needs no second list.
 */
import type { z } from 'zod';
import { configSchema } from './schema.js';

interface SchemaDef {
  type: string;
  innerType?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
}

export function defOf(schema: z.ZodType): SchemaDef {
  return (schema as unknown as { def: SchemaDef }).def;
}

/** Strips defaults, optionals and transforms down to the schema that describes the input. */
export function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    const def = defOf(current);
    if (def.innerType) current = def.innerType;
    // A preprocess is a pipe from a transform: the input is described by what it feeds.
    else if (def.type === 'pipe' && def.in && defOf(def.in).type === 'transform' && def.out) current = def.out;
    else if (def.type === 'pipe' && def.in) current = def.in;
    else return current;
  }
}

/** The schema at a key path (array indexes skipped), or undefined. */
export function schemaAt(path: readonly PropertyKey[]): z.ZodType | undefined {
  let current: z.ZodType | undefined = configSchema;
  for (const key of path) {
    if (!current) return undefined;
    const def = defOf(unwrap(current));
    if (def.type === 'array' && typeof key === 'number') current = def.element;
    else if (def.type === 'object' && typeof key === 'string') current = def.shape?.[key];
    else return undefined;
  }
  return current;
}

/** The keys of the object at a path, or none. */
export function keysAt(path: readonly PropertyKey[]): string[] {
  const schema = schemaAt(path);
  return schema ? Object.keys(defOf(unwrap(schema)).shape ?? {}) : [];
}

export interface Leaf {
  readonly path: readonly string[];
  readonly kind: string;
  readonly element?: string;
}

export function leaves(schema: z.ZodType = configSchema, path: string[] = []): Leaf[] {
  const inner = unwrap(schema);
  const def = defOf(inner);
  if (def.type === 'object' && def.shape) {
    return Object.entries(def.shape).flatMap(([key, child]) => leaves(child, [...path, key]));
  }
  if (def.type === 'array' && def.element) {
    return [{ path, kind: 'array', element: defOf(unwrap(def.element)).type }];
  }
  return [{ path, kind: def.type }];
}

/** Every object key path in the schema (sections and leaves), e.g. `github.issues.requiredLabel`. */
export function keyPaths(schema: z.ZodType = configSchema, path: string[] = []): string[][] {
  const def = defOf(unwrap(schema));
  if (def.type !== 'object' || !def.shape) return [];
  return Object.entries(def.shape).flatMap(([key, child]) => [[...path, key], ...keyPaths(child, [...path, key])]);
}
