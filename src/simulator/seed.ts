/** Applies a scenario's repositories and issues to a fresh model. */
import type { SimulatorState } from './state.js';
import type { Scenario } from './types.js';

export function seedScenario(state: SimulatorState, scenario: Scenario): void {
  scenario.repositories.forEach((repository, index) => {
    const repoInput = { owner: repository.owner, name: repository.name };
    state.addRepository(repository.private === undefined ? repoInput : { ...repoInput, private: repository.private });
    (repository.issues ?? []).forEach((issue, issueIndex) => {
      try {
        state.addIssue(repository.owner, repository.name, issue);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`repositories[${index}].issues[${issueIndex}]: ${reason}`, { cause: error });
      }
    });
  });
}
