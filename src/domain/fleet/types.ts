/**
 * The fleet: every repository one daemon watches, configured by name or
 * discovered in an organisation, and how each one's changes are detected
 * (docs/architecture.md, "The fleet").
 */
import type { Issue, RemoteRepository, RepositoryRef } from '../entities.js';

/**
 * How changes of a repository are found:
 * - `walk`: today's per-repository poll, every interval (small fleets, the fallback);
 * - `stream`: an organisation's issue stream (`GET /orgs/{org}/issues`) carries them,
 *   one request per 100 changes whatever the fleet's size; a periodic sweep reconciles;
 * - `sweep`: batched GraphQL queries say which repositories changed, and only those are walked.
 */
export type DetectionPath = 'walk' | 'stream' | 'sweep';
export const DETECTION_PATHS: readonly DetectionPath[] = ['walk', 'stream', 'sweep'];

/** `github.fleet.detection`: `auto` lets the daemon choose per repository. */
export type DetectionMode = 'auto' | DetectionPath;

/** Where a member came from: `github.repositories` (strict setup) or `github.organizations` (discovered). */
export type MemberSource = 'configured' | 'discovered';

/** One `github.organizations` entry, normalised: globs on repository names, topics all required. */
export interface OrganizationSpec {
  readonly name: string;
  /** Repository-name globs (`api-*`); empty: every repository. */
  readonly include: readonly string[];
  /** Repository-name globs left out, even when included. */
  readonly exclude: readonly string[];
  /** Topics a repository must carry (all of them); empty: no condition. */
  readonly topics: readonly string[];
}

/** A repository as an organisation listing shows it. */
export interface DiscoveredRepository extends RemoteRepository {
  readonly archived: boolean;
  readonly topics: readonly string[];
}

/** A repository the daemon watches, as stored. */
export interface FleetEntry extends RepositoryRef {
  /** Our id (repositories.id). */
  readonly repositoryId: number;
  readonly githubId: number | null;
  readonly source: MemberSource;
  /** The organisation it was discovered in; null for a configured one. */
  readonly organization: string | null;
  /**
   * When it joined the fleet (repositories.first_synced_at), ISO 8601; null
   * until then. Issues last updated before it are backlog (github.issues.backlog).
   */
  readonly firstSyncedAt: string | null;
}

/** A stream of every issue change in a scope the token can see. */
export type IssueScope = { readonly kind: 'organization'; readonly org: string } | { readonly kind: 'user' };

/** The key a scope's cursor is stored under: `org:acme` or `user`. */
export function scopeKey(scope: IssueScope): string {
  return scope.kind === 'user' ? 'user' : `org:${scope.org.toLowerCase()}`;
}

/** An issue from a scope stream, with the repository it is in. */
export interface ScopedIssue {
  readonly issue: Issue;
  readonly repository: { readonly githubId: number; readonly owner: string; readonly name: string };
}

/** What a sweep learnt of one repository. */
export type SweepOutcome =
  | { readonly ok: true; /** The newest `updatedAt` of its issues and pull requests; null when it has none. */ readonly latestUpdatedAt: string | null }
  | {
      readonly ok: false;
      /** `not-found`: gone or invisible to the token; `forbidden`: e.g. SAML enforcement; `other`: anything else GitHub said. */
      readonly error: 'not-found' | 'forbidden' | 'other';
      readonly message: string;
    };
