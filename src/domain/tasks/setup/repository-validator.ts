/**
 * Preflight, per repository: read the repository from GitHub and record it with
 * its GitHub id. A repository the token cannot see stops start-up, naming it;
 * why is recorded for `autosolve status` until setup passes.
 *
 * A renamed or transferred repository: GitHub redirects the old name, so it
 * answers with the new one. We keep working on the same repository (its row,
 * its GitHub id, its issues) under the configured name and warn, naming the new
 * name, so the operator can update the configuration.
 */
import { fullName, type RemoteRepository, type RepositoryRef } from '../../entities.js';
import { ValidateRepositoryError } from '../../errors.js';
import { describeError, isAbort } from '../../failure.js';
import type { Log, RepositoryReader, RepositoryRecorder } from '../../ports.js';
import type { RepositorySetupSpec } from '../../spec.js';

export interface RepositoryValidatorDeps {
  readonly github: RepositoryReader;
  readonly repositories: RepositoryRecorder;
  /** Where a rename is reported. Default: nowhere. */
  readonly log?: Log;
}

export function repositoryValidator(deps: RepositoryValidatorDeps): RepositorySetupSpec {
  return {
    resource: 'repository-validator',
    async run(signal, repository) {
      try {
        const remote = await deps.github.getRepository(repository, signal);
        warnIfRenamed(deps.log, repository, remote);
        await deps.repositories.record(repository, remote);
      } catch (cause) {
        if (!isAbort(cause, signal)) await recordFailure(deps, repository, cause);
        throw new ValidateRepositoryError(repository, { cause });
      }
    },
  };
}

function warnIfRenamed(log: Log | undefined, configured: RepositoryRef, remote: RemoteRepository): void {
  const now = fullName(remote);
  // GitHub names are case-insensitive: `Acme/API` for `acme/api` is the same repository.
  if (now.toLowerCase() === fullName(configured).toLowerCase()) return;
  log?.warn(
    { repository: fullName(configured), renamedTo: now, githubId: remote.githubId },
    `${fullName(configured)} is now ${now} on GitHub (renamed or transferred); autosolve keeps working on it, ` +
      `following GitHub's redirects: write ${now} in github.repositories to stop this warning`,
  );
}

async function recordFailure(deps: RepositoryValidatorDeps, repository: RepositoryRef, cause: unknown): Promise<void> {
  try {
    await deps.repositories.recordSetupFailure(repository, describeError(cause));
  } catch (error) {
    // The setup failure itself is what the operator needs; a store that cannot
    // remember it must not replace it.
    deps.log?.warn({ repository: fullName(repository), error: describeError(error) }, `could not record why setup failed for ${fullName(repository)}`);
  }
}
