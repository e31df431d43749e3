/**
 * Preflight, per repository: read the repository from GitHub and record it with
 * its GitHub id. A repository the token cannot see stops start-up, naming it.
 */
import { ValidateRepositoryError } from '../../errors.js';
import type { RepositoryReader, RepositoryRecorder } from '../../ports.js';
import type { RepositorySetupSpec } from '../../spec.js';

export interface RepositoryValidatorDeps {
  readonly github: RepositoryReader;
  readonly repositories: RepositoryRecorder;
}

export function repositoryValidator(deps: RepositoryValidatorDeps): RepositorySetupSpec {
  return {
    resource: 'repository-validator',
    async run(signal, repository) {
      try {
        const remote = await deps.github.getRepository(repository, signal);
        await deps.repositories.record(repository, remote);
      } catch (cause) {
        throw new ValidateRepositoryError(repository, { cause });
      }
    },
  };
}
