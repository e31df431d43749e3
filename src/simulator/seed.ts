/** Applies a scenario's repositories and issues, listed and generated, to a fresh model. */
import { isoSeconds, type SimulatorState } from './state.js';
import type { RepositoryGenerator, Scenario, SimRepositoryInput } from './types.js';

export function seedScenario(state: SimulatorState, scenario: Scenario): void {
  scenario.repositories.forEach((repository, index) => {
    const input: SimRepositoryInput = { owner: repository.owner, name: repository.name };
    if (repository.private !== undefined) input.private = repository.private;
    if (repository.archived !== undefined) input.archived = repository.archived;
    if (repository.topics !== undefined) input.topics = repository.topics;
    state.addRepository(input);
    (repository.issues ?? []).forEach((issue, issueIndex) => {
      try {
        state.addIssue(repository.owner, repository.name, issue);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`repositories[${index}].issues[${issueIndex}]: ${reason}`, { cause: error });
      }
    });
  });
  (scenario.generate ?? []).forEach((generator, index) => {
    try {
      generateRepositories(state, generator);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`generate[${index}]: ${reason}`, { cause: error });
    }
  });
}

/**
 * Seeds a generator's repositories. Lean on purpose (a fleet benchmark seeds 10,000): one shared topics
 * array, no payloads, issue times computed rather than parsed.
 */
export function generateRepositories(state: SimulatorState, generator: RepositoryGenerator): void {
  const prefix = generator.namePrefix ?? 'repo-';
  const width = String(generator.count).length;
  const perRepository = generator.issuesPerRepository ?? 0;
  const topics = Object.freeze([...(generator.topics ?? [])]);
  const labels = generator.labels ?? [];
  const nowMs = Math.floor(state.now() / 1000) * 1000;
  for (let n = 1; n <= generator.count; n++) {
    const archived = generator.archivedEvery !== undefined && n % generator.archivedEvery === 0;
    state.createRepository({
      owner: generator.owner,
      name: `${prefix}${String(n).padStart(width, '0')}`,
      archived,
      topics,
    });
    for (let i = 1; i <= perRepository; i++) {
      // Oldest first, one minute apart, the newest now: repositories interleave in time.
      const at = isoSeconds(nowMs - (perRepository - i) * 60_000 - (generator.count - n) * 1000);
      state.addIssue(generator.owner, `${prefix}${String(n).padStart(width, '0')}`, {
        title: `Issue ${i}`,
        labels,
        pullRequest: generator.pullRequestEvery !== undefined && i % generator.pullRequestEvery === 0,
        createdAt: at,
      });
    }
  }
}
