/**
 * The planner: specs × partitions → named jobs. The only place that knows how
 * configuration maps to repositories and repositories to jobs. Every rejection
 * happens here, before any I/O.
 */
import { fullName, type Partition, type RepositoryRef } from '../domain/entities.js';
import type { RepositoryWorkerSpec, WakeSource } from '../domain/spec.js';
import type { Phase, RegistryEntry, Scope } from './entries.js';

/** The plan is wrong; start-up stops before any I/O. */
export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlanError';
  }
}

export interface SetupJob {
  readonly name: string;
  readonly resource: string;
  /** The repository it prepares; absent for a step of the whole daemon (the first discovery). */
  readonly repository?: RepositoryRef;
  /** What a failure names: `owner/name`, or what a global step is about (`github.organizations`). */
  readonly subject: string;
  run(signal: AbortSignal): Promise<void>;
}

/** A setup step of the whole daemon (the first discovery): `setup:<resource>`, its failure naming `subject`. */
export function globalSetupJob(step: { readonly resource: string; run(signal: AbortSignal): Promise<void> }, subject: string): SetupJob {
  return { name: jobName('setup', step.resource), resource: step.resource, subject, run: (signal) => step.run(signal) };
}

export interface WorkJob {
  readonly name: string;
  readonly resource: string;
  readonly scope: Scope;
  readonly interval: number;
  readonly repository?: RepositoryRef;
  /** Our id of the repository a repository-scope job works on: its walk's key. */
  readonly repositoryId?: number;
  /** Finds changed repositories and nudges their walks (see GlobalWorkerSpec.detects). */
  readonly detects?: boolean;
  /** In-flight work may finish within the shutdown grace (see GlobalWorkerSpec.drains). */
  readonly drains?: boolean;
  /** Cuts the wait between passes short (see GlobalWorkerSpec.wake). */
  readonly wake?: WakeSource;
  run(signal: AbortSignal, stopping?: AbortSignal): Promise<void>;
}

export interface Plan {
  readonly setup: readonly SetupJob[];
  /** Every work job's name, known before setup runs. */
  readonly workNames: readonly string[];
  /** Binds the work jobs to the partitions setup produced. */
  bindWork(partitionOf: (repository: RepositoryRef) => Partition): WorkJob[];
  /**
   * The repository-scope work jobs of one repository, configured or not: for
   * repositories that join the fleet after start (their walks are added then).
   */
  jobsFor(partition: Partition): WorkJob[];
}

const RESOURCE = /^[a-z][a-z0-9-]*$/;

export function jobName(phase: Phase, resource: string, repository?: RepositoryRef): string {
  return repository ? `${phase}:${resource}:${fullName(repository)}` : `${phase}:${resource}`;
}

export function plan(entries: readonly RegistryEntry[], repositories: readonly RepositoryRef[]): Plan {
  // Keyed by lower case: GitHub names ignore case, so acme/API and acme/api would be two pollers of one repository.
  const names = new Map<string, string>();
  const claim = (name: string) => {
    const earlier = names.get(name.toLowerCase());
    if (earlier === name) {
      throw new PlanError(`duplicate job ${name}: each spec may be registered once, and each repository configured once`);
    }
    if (earlier !== undefined) {
      throw new PlanError(
        `duplicate job ${name}: it differs from ${earlier} only in letter case, and GitHub names ignore case; configure each repository once`,
      );
    }
    names.set(name.toLowerCase(), name);
  };

  const setup: SetupJob[] = [];
  const workNames: string[] = [];
  const binders: Array<(partitionOf: (repository: RepositoryRef) => Partition) => WorkJob[]> = [];
  const walkers: RepositoryWorkerSpec[] = [];

  for (const entry of entries) {
    checkEntry(entry);
    if (entry.phase === 'setup') {
      for (const repository of repositories) {
        const name = jobName('setup', entry.spec.resource, repository);
        claim(name);
        const spec = entry.spec;
        setup.push({ name, resource: spec.resource, repository, subject: fullName(repository), run: (signal) => spec.run(signal, repository) });
      }
    } else if (entry.scope === 'repository') {
      const spec = entry.spec;
      const jobNames = repositories.map((repository) => jobName('work', spec.resource, repository));
      jobNames.forEach(claim);
      workNames.push(...jobNames);
      walkers.push(spec);
      binders.push((partitionOf) => repositories.map((repository) => walkJob(spec, repository, partitionOf(repository))));
    } else {
      const spec = entry.spec;
      const name = jobName('work', spec.resource);
      claim(name);
      workNames.push(name);
      binders.push(() => [
        {
          name,
          resource: spec.resource,
          scope: 'global',
          interval: spec.interval,
          drains: spec.drains === true,
          ...(spec.detects === true ? { detects: true } : {}),
          ...(spec.wake ? { wake: spec.wake } : {}),
          run: (signal, stopping) => spec.work(signal, stopping),
        },
      ]);
    }
  }

  return {
    setup,
    workNames,
    bindWork: (partitionOf) => binders.flatMap((bind) => bind(partitionOf)),
    jobsFor: (partition) => walkers.map((spec) => walkJob(spec, { owner: partition.owner, name: partition.name }, partition)),
  };
}

/** A repository-scope work job: the spec bound to one repository's partition. */
function walkJob(spec: RepositoryWorkerSpec, repository: RepositoryRef, partition: Partition): WorkJob {
  return {
    name: jobName('work', spec.resource, repository),
    resource: spec.resource,
    scope: 'repository',
    interval: spec.interval,
    repository,
    repositoryId: partition.repositoryId,
    run: (signal: AbortSignal) => spec.work(signal, partition),
  };
}

function checkEntry(entry: RegistryEntry): void {
  const { phase, scope, spec } = entry as { phase: unknown; scope: unknown; spec: { resource?: unknown; interval?: unknown } };
  if (phase !== 'setup' && phase !== 'work') {
    throw new PlanError(`unknown phase ${JSON.stringify(phase)} for ${String(spec.resource)}: use setupPerRepository(), workPerRepository() or workGlobal()`);
  }
  if (scope !== 'repository' && scope !== 'global') {
    throw new PlanError(`unknown scope ${JSON.stringify(scope)} for ${String(spec.resource)}: expected "repository" or "global"`);
  }
  if (phase === 'setup' && scope !== 'repository') {
    throw new PlanError(`setup spec ${String(spec.resource)} must run per repository`);
  }
  if (typeof spec.resource !== 'string' || !RESOURCE.test(spec.resource)) {
    throw new PlanError(`invalid resource name ${JSON.stringify(spec.resource)}: use lower-case words joined by "-", e.g. "issue-poller"`);
  }
  if (phase === 'work') {
    const interval = spec.interval;
    if (typeof interval !== 'number' || !Number.isFinite(interval) || interval <= 0) {
      throw new PlanError(`worker ${spec.resource} has interval ${String(interval)}: a worker needs a positive interval in milliseconds, e.g. 60_000`);
    }
  }
}
