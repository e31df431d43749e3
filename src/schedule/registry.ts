/**
 * The manifest: every task autosolve runs, its phase and its scope, in one
 * readable list. Adding a worker is one new file and one line here.
 */
import { dispatcher, type DispatcherDeps } from '../domain/tasks/global/dispatcher.js';
import { issuePoller, type IssuePollerDeps } from '../domain/tasks/repository/issue-poller.js';
import { backlogReconciler, type BacklogReconcilerDeps } from '../domain/tasks/setup/backlog-reconciler.js';
import { repositoryValidator, type RepositoryValidatorDeps } from '../domain/tasks/setup/repository-validator.js';
import { setupPerRepository, workGlobal, workPerRepository, type RegistryEntry } from './entries.js';

export interface TaskDependencies {
  readonly repositoryValidator: RepositoryValidatorDeps;
  readonly backlogReconciler: BacklogReconcilerDeps;
  readonly issuePoller: IssuePollerDeps;
  readonly dispatcher: DispatcherDeps;
}

export function registry(deps: TaskDependencies): RegistryEntry[] {
  return [
    setupPerRepository(repositoryValidator(deps.repositoryValidator)),
    setupPerRepository(backlogReconciler(deps.backlogReconciler)),
    workPerRepository(issuePoller(deps.issuePoller)),
    workGlobal(dispatcher(deps.dispatcher)),
  ];
}
