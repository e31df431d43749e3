/** The manifest's vocabulary: which phase and scope a spec runs in. */
import type { GlobalWorkerSpec, RepositorySetupSpec, RepositoryWorkerSpec } from '../domain/spec.js';

export type Phase = 'setup' | 'work';
export type Scope = 'repository' | 'global';

/** One line of the manifest. */
export type RegistryEntry =
  | { readonly phase: 'setup'; readonly scope: 'repository'; readonly spec: RepositorySetupSpec }
  | { readonly phase: 'work'; readonly scope: 'repository'; readonly spec: RepositoryWorkerSpec }
  | { readonly phase: 'work'; readonly scope: 'global'; readonly spec: GlobalWorkerSpec };

export const setupPerRepository = (spec: RepositorySetupSpec): RegistryEntry => ({ phase: 'setup', scope: 'repository', spec });
export const workPerRepository = (spec: RepositoryWorkerSpec): RegistryEntry => ({ phase: 'work', scope: 'repository', spec });
export const workGlobal = (spec: GlobalWorkerSpec): RegistryEntry => ({ phase: 'work', scope: 'global', spec });
