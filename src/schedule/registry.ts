/**
 * The manifest: every task autosolve runs, its phase and its scope, in one
 * readable list. Adding a worker is one new file and one line here.
 */
import { DISCOVERY_UNIT, streamUnit } from '../domain/fleet/lease-share.js';
import type { GlobalWorkerSpec } from '../domain/spec.js';
import { discovery, type DiscoveryDeps } from '../domain/tasks/global/discovery.js';
import { dispatcher, type DispatcherDeps } from '../domain/tasks/global/dispatcher.js';
import { scopeStream, type ScopeStreamDeps } from '../domain/tasks/global/scope-stream.js';
import { sweeper, type SweeperDeps } from '../domain/tasks/global/sweeper.js';
import { commentPoller, type CommentPollerDeps } from '../domain/tasks/repository/comment-poller.js';
import { issuePoller, type IssuePollerDeps } from '../domain/tasks/repository/issue-poller.js';
import { backlogReconciler, type BacklogReconcilerDeps } from '../domain/tasks/setup/backlog-reconciler.js';
import { repositoryValidator, type RepositoryValidatorDeps } from '../domain/tasks/setup/repository-validator.js';
import { setupPerRepository, workGlobal, workPerRepository, type RegistryEntry } from './entries.js';

export interface TaskDependencies {
  readonly repositoryValidator: RepositoryValidatorDeps;
  readonly backlogReconciler: BacklogReconcilerDeps;
  readonly issuePoller: IssuePollerDeps;
  /** Follow-ups by mention; absent, comments are not polled. */
  readonly commentPoller?: CommentPollerDeps | undefined;
  readonly dispatcher: DispatcherDeps;
  /** The fleet's detectors (src/composition/fleet.ts): discovery and streams only with github.organizations. */
  readonly fleet: {
    readonly discovery?: DiscoveryDeps;
    readonly streams?: { readonly deps: ScopeStreamDeps; readonly organizations: readonly string[] };
    readonly sweeper: SweeperDeps;
    /** Whether this daemon holds a work unit (discovery, `stream:<org>`); a pass of a detector whose unit it does not hold does nothing. Default: holds all. */
    readonly holds?: (unit: string) => boolean;
  };
}

export function registry(deps: TaskDependencies): RegistryEntry[] {
  return [
    setupPerRepository(repositoryValidator(deps.repositoryValidator)),
    setupPerRepository(backlogReconciler(deps.backlogReconciler)),
    workPerRepository(issuePoller(deps.issuePoller)),
    ...(deps.commentPoller ? [workPerRepository(commentPoller(deps.commentPoller))] : []),
    ...(deps.fleet.discovery ? [workGlobal(whileHeld(discovery(deps.fleet.discovery), DISCOVERY_UNIT, deps.fleet.holds))] : []),
    ...(deps.fleet.streams?.organizations ?? []).map((org) => workGlobal(whileHeld(scopeStream(deps.fleet.streams!.deps, org), streamUnit(org), deps.fleet.holds))),
    workGlobal(sweeper(deps.fleet.sweeper)),
    workGlobal(dispatcher(deps.dispatcher)),
  ];
}

/** Another daemon does the work of a unit this one does not hold (decision 010). */
function whileHeld(spec: GlobalWorkerSpec, unit: string, holds: ((unit: string) => boolean) | undefined): GlobalWorkerSpec {
  if (!holds) return spec;
  return { ...spec, work: (signal, stopping) => (holds(unit) ? spec.work(signal, stopping) : Promise.resolve()) };
}
