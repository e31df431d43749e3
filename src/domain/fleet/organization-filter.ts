/**
 * Which repositories of an organisation listing join the fleet: not archived
 * (nobody answers issues there), named by an include glob when there are any,
 * by no exclude glob, and carrying every topic the entry asks for.
 */
import picomatch from 'picomatch';
import type { DiscoveredRepository, OrganizationSpec } from './types.js';

export interface FilteredListing {
  readonly kept: DiscoveredRepository[];
  /** Left out because they are archived. */
  readonly archived: number;
  /** Left out by the globs or the topics. */
  readonly filtered: number;
}

/** The test for one organisation entry, compiled once. */
export function organizationFilter(spec: OrganizationSpec): (repository: DiscoveredRepository) => boolean {
  // GitHub names ignore case; `dot` so that `*` also takes `.github`.
  const options = { nocase: true, dot: true } as const;
  const included = spec.include.length === 0 ? () => true : picomatch(spec.include, options);
  const excluded = spec.exclude.length === 0 ? () => false : picomatch(spec.exclude, options);
  const topics = spec.topics.map((topic) => topic.toLowerCase());
  return (repository) => {
    if (repository.archived) return false;
    if (!included(repository.name) || excluded(repository.name)) return false;
    if (topics.length === 0) return true;
    const carried = new Set(repository.topics.map((topic) => topic.toLowerCase()));
    return topics.every((topic) => carried.has(topic));
  };
}

/** Applies the entry to a listing, counting what was left out and why. */
export function filterListing(spec: OrganizationSpec, listed: readonly DiscoveredRepository[]): FilteredListing {
  const keep = organizationFilter(spec);
  const kept: DiscoveredRepository[] = [];
  let archived = 0;
  let filtered = 0;
  for (const repository of listed) {
    if (keep(repository)) kept.push(repository);
    else if (repository.archived) archived++;
    else filtered++;
  }
  return { kept, archived, filtered };
}
