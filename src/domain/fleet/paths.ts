/**
 * How each member's changes are found (docs: FLEET-DESIGN.md, "Paths"). Pure:
 * the composition says which organisations have a working issue stream and how
 * many repositories the REST budget lets it walk every parseInterval.
 *
 * `auto` decides for the whole rest of the fleet at once (all walked, or all
 * swept), never a split, so `status` can say why in one sentence.
 */
import type { DetectionMode, DetectionPath } from './types.js';

export interface PathPolicy {
  /** github.fleet.detection. */
  readonly mode: DetectionMode;
  /** Organisations whose issue stream works, lower-case. */
  readonly streamedOrganizations: ReadonlySet<string>;
  /** How many walk-path repositories the REST budget allows at parseInterval (from the capacity projection). */
  readonly walkCapacity: number;
}

export interface PathChoice {
  readonly path: DetectionPath;
  /** One short sentence for `status`. */
  readonly reason: string;
}

/** What the choice needs to know of a member. */
export interface PathCandidate {
  readonly repositoryId: number;
  readonly owner: string;
}

/** The path of every candidate, by repository id. */
export function choosePaths(candidates: readonly PathCandidate[], policy: PathPolicy): Map<number, PathChoice> {
  const choices = new Map<number, PathChoice>();
  const streamed = (candidate: PathCandidate): boolean => policy.streamedOrganizations.has(candidate.owner.toLowerCase());
  const streamReasons = new Map<string, PathChoice>();
  const streamChoice = (owner: string): PathChoice => {
    const key = owner.toLowerCase();
    let choice = streamReasons.get(key);
    if (!choice) {
      choice = { path: 'stream', reason: `found by the issue stream of organisation ${key}, reconciled by sweeps` };
      streamReasons.set(key, choice);
    }
    return choice;
  };

  if (policy.mode === 'walk' || policy.mode === 'sweep') {
    const choice: PathChoice = {
      path: policy.mode,
      reason: policy.mode === 'walk' ? 'walked every parseInterval (github.fleet.detection: walk)' : 'swept every parseInterval, walked when changed (github.fleet.detection: sweep)',
    };
    for (const candidate of candidates) choices.set(candidate.repositoryId, choice);
    return choices;
  }

  const rest = candidates.filter((candidate) => !streamed(candidate));
  for (const candidate of candidates) if (streamed(candidate)) choices.set(candidate.repositoryId, streamChoice(candidate.owner));
  const restChoice = policy.mode === 'stream' ? noStream() : walkOrSweep(rest.length, policy.walkCapacity);
  for (const candidate of rest) choices.set(candidate.repositoryId, restChoice);
  return choices;
}

/** `detection: stream` for a repository no stream covers: a sweep is the nearest thing. */
function noStream(): PathChoice {
  return {
    path: 'sweep',
    reason: 'swept (github.fleet.detection: stream, but its owner is not a configured organisation with a working issue stream)',
  };
}

function walkOrSweep(count: number, capacity: number): PathChoice {
  const walkable = Math.max(0, Math.floor(capacity));
  if (count <= walkable) {
    return { path: 'walk', reason: `walked every parseInterval: the ${count} repositories outside a streamed organisation fit the REST budget (${walkable})` };
  }
  return {
    path: 'sweep',
    reason: `swept, walked when changed: the ${count} repositories outside a streamed organisation exceed the ${walkable} the REST budget can walk every parseInterval`,
  };
}
