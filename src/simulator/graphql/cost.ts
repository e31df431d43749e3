/**
 * A query's cost as GitHub documents it (rate limits for the GraphQL API, "Calculating points for the
 * primary rate limit"): every connection is one request per parent object, assuming each reaches its
 * `first`/`last`; the sum over 100, rounded, at least 1. The node count multiplies the sizes the same way.
 * Pagination rules (a `first` or `last` on every connection that asks for nodes, 1..100, at most 500,000
 * nodes) are checked on the way.
 */
import {
  getArgumentValues,
  getNamedType,
  isInterfaceType,
  isObjectType,
  Kind,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLNamedType,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

export interface QueryCost {
  cost: number;
  nodeCount: number;
  /** `repository` fields at the top (a sweep's batch size), for the simulated response time. */
  repositories: number;
}

export interface LimitError {
  type: 'MISSING_PAGINATION_BOUNDARIES' | 'EXCESSIVE_PAGINATION' | 'MAX_NODE_LIMIT_EXCEEDED';
  message: string;
  path: string[];
  locations: Array<{ line: number; column: number }>;
}

const MAX_NODES = 500_000;

function isConnection(type: GraphQLNamedType): boolean {
  return type.name.endsWith('Connection') && (isObjectType(type) || isInterfaceType(type));
}

export function queryCost(
  operation: OperationDefinitionNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  root: GraphQLCompositeType,
  variables: Record<string, unknown>,
  typeOf: (name: string) => GraphQLNamedType | undefined,
): QueryCost | LimitError {
  let requests = 0;
  let nodes = 0;
  let repositories = 0;
  let failure: LimitError | undefined;

  const walk = (selectionSet: SelectionSetNode, parent: GraphQLCompositeType, multiplier: number, path: string[]) => {
    for (const selection of selectionSet.selections) {
      if (failure) return;
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? typeOf(selection.typeCondition.name.value) : parent;
        walk(selection.selectionSet, (type ?? parent) as GraphQLCompositeType, multiplier, path);
      } else if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        const type = fragment ? typeOf(fragment.typeCondition.name.value) : undefined;
        if (fragment) walk(fragment.selectionSet, (type ?? parent) as GraphQLCompositeType, multiplier, path);
      } else {
        field(selection, parent, multiplier, path);
      }
    }
  };

  const field = (node: FieldNode, parent: GraphQLCompositeType, multiplier: number, path: string[]) => {
    if (!isObjectType(parent) && !isInterfaceType(parent)) return;
    const definition = parent.getFields()[node.name.value];
    if (!definition) return; // __typename, or refused by validation already
    const here = [...path, node.alias?.value ?? node.name.value];
    if (path.length === 0 && node.name.value === 'repository') repositories++;
    const type = getNamedType(definition.type);
    if (!node.selectionSet || !(isObjectType(type) || isInterfaceType(type) || 'getTypes' in type)) return;
    let size = 1;
    if (isConnection(type)) {
      const args = getArgumentValues(definition, node, variables) as { first?: number | null; last?: number | null };
      const asked = args.first ?? args.last ?? null;
      const wantsNodes = node.selectionSet.selections.some(
        (child) => child.kind !== Kind.FIELD || child.name.value === 'nodes' || child.name.value === 'edges',
      );
      const location = node.loc ? [{ line: node.loc.startToken.line, column: node.loc.startToken.column }] : [];
      if (asked === null && wantsNodes) {
        failure = {
          type: 'MISSING_PAGINATION_BOUNDARIES',
          message: `You must provide a \`first\` or \`last\` value to properly paginate the \`${node.name.value}\` connection.`,
          path: here,
          locations: location,
        };
        return;
      }
      if (asked !== null && (asked < 0 || asked > 100)) {
        const which = args.first !== undefined && args.first !== null ? 'first' : 'last';
        failure = {
          type: 'EXCESSIVE_PAGINATION',
          message: `Requesting ${asked} records on the \`${node.name.value}\` connection exceeds the \`${which}\` limit of 100 records.`,
          path: here,
          locations: location,
        };
        return;
      }
      size = asked ?? 0;
      requests += multiplier;
      nodes += multiplier * size;
    }
    walk(node.selectionSet, type as GraphQLCompositeType, multiplier * Math.max(size, 1), here);
  };

  walk(operation.selectionSet, root, 1, []);
  if (failure) return failure;
  if (nodes > MAX_NODES) {
    return {
      type: 'MAX_NODE_LIMIT_EXCEEDED',
      message: `This query requests up to ${nodes.toLocaleString('en-US')} possible nodes which exceeds the maximum limit of 500,000.`,
      path: [],
      locations: [],
    };
  }
  return { cost: Math.max(1, Math.round(requests / 100)), nodeCount: nodes, repositories };
}
