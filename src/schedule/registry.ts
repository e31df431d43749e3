/**
 * The manifest: every task autosolve runs, its phase and its scope, in one
 * readable list. Adding a worker is one new file and one line here.
 */
import { discovery, type DiscoveryDeps } from '../domain/tasks/global/discovery.js';
import { dispatcher, type DispatcherDeps } from '../domain/tasks/global/dispatcher.js';
import { scopeStream, type ScopeStreamDeps } from '../domain/tasks/global/scope-stream.js';
import { sweeper, type SweeperDeps } from '../domain/tasks/global/sweeper.js';
import { issuePoller, type IssuePollerDeps } from '../domain/tasks/repository/issue-poller.js';
import { backlogReconciler, type BacklogReconcilerDeps } from '../domain/tasks/setup/backlog-reconciler.js';
import { repositoryValidator, type RepositoryValidatorDeps } from '../domain/tasks/setup/repository-validator.js';
import { setupPerRepository, workGlobal, workPerRepository, type RegistryEntry } from './entries.js';

export interface TaskDependencies {
  readonly repositoryValidator: RepositoryValidatorDeps;
  readonly backlogReconciler: BacklogReconcilerDeps;
  readonly issuePoller: IssuePollerDeps;
  readonly dispatcher: DispatcherDeps;
  /** The fleet's detectors (src/composition/fleet.ts): discovery and streams only with github.organizations. */
  readonly fleet: {
    readonly discovery?: DiscoveryDeps;
    readonly streams?: { readonly deps: ScopeStreamDeps; readonly organizations: readonly string[] };
    readonly sweeper: SweeperDeps;
  };
}

export function registry(deps: TaskDependencies): RegistryEntry[] {
  return [
    setupPerRepository(repositoryValidator(deps.repositoryValidator)),
    setupPerRepository(backlogReconciler(deps.backlogReconciler)),
    workPerRepository(issuePoller(deps.issuePoller)),
    ...(deps.fleet.discovery ? [workGlobal(discovery(deps.fleet.discovery))] : []),
    ...(deps.fleet.streams?.organizations ?? []).map((org) => workGlobal(scopeStream(deps.fleet.streams!.deps, org))),
    workGlobal(sweeper(deps.fleet.sweeper)),
    workGlobal(dispatcher(deps.dispatcher)),
  ];
}
