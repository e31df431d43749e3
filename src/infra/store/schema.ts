/** Table types for Kysely. Times are ISO 8601 text; booleans are 0/1 integers (portable to PostgreSQL). */
import type { Generated, Insertable, Selectable } from 'kysely';
import type { DetectionPath, MemberSource } from '../../domain/fleet/types.js';
import type { QueueJobState } from '../../domain/ports.js';

export type { QueueJobState };

export interface RepositoriesTable {
  id: Generated<number>;
  owner: string;
  name: string;
  github_id: number | null;
  validated_at: string | null;
  created_at: string;
  /** When its first poll started (ISO 8601); set once, never moved. github.issues.backlog measures from it. */
  first_synced_at: string | null;
  /** `configured` (github.repositories) or `discovered` (github.organizations); 009. */
  source: Generated<MemberSource>;
  /** The organisation a discovered repository was listed in; null for a configured one. */
  organization: string | null;
  /** When discovery (or a sweep) dropped a discovered repository, and why; null while it is a member. */
  dropped_at: string | null;
  drop_reason: string | null;
  /** How its changes are detected, as the fleet last chose; null before the fleet ran. */
  detection_path: DetectionPath | null;
}

export interface IssuesTable {
  id: Generated<number>;
  github_id: number;
  repository_id: number;
  number: number;
  title: string;
  body: string | null;
  state: string;
  is_pull_request: number;
  /** JSON array of label names. */
  labels: string;
  author: string | null;
  html_url: string;
  comments_count: number;
  created_at: string;
  updated_at: string;
  synced_at: string;
  /** contentHash() of the title and body as last stored (012); null before. */
  content_hash: string | null;
  /** The author's association with the repository (OWNER, MEMBER, NONE, ...), as GitHub gave it (012). */
  author_association: string | null;
}

export interface SyncCursorsTable {
  repository_id: number;
  topic: string;
  since: string | null;
  page: number;
  etag: string | null;
  updated_at: string;
  /** Last pass that completed (200 or 304). */
  last_polled_at: string | null;
  last_error: string | null;
  last_error_at: string | null;
}

export interface JobsTable {
  id: Generated<number>;
  type: string;
  repository_id: number;
  issue_github_id: number;
  /** The comment (GitHub id) a job is about, e.g. the mention a follow-up answers; 0: the issue itself (012). */
  subject_id: Generated<number>;
  state: QueueJobState;
  attempts: number;
  max_attempts: number;
  /** Releases after backend failures on this job alone (migration 006); dead at the dispatcher's bound. */
  releases: Generated<number>;
  /** Not visible to claims before this time. */
  run_after: string;
  /** While running: the claim expires at this time and the job comes back. */
  locked_until: string | null;
  locked_by: string | null;
  /** While running: the instance, host and pid holding the claim (a dead holder's job comes back at once). */
  owner_instance: string | null;
  owner_host: string | null;
  owner_pid: number | null;
  last_error: string | null;
  /** How a done job ended: answered, already-answered, dry-run, not-eligible, backlog. */
  outcome: string | null;
  comment_url: string | null;
  /** Secrets removed from the comment before it was posted (007). */
  scrubbed: Generated<number>;
  /** JSON. */
  payload: string;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

/** Where an organisation's (or the user's) issue stream resumes, keyed by scopeKey(): `org:acme`, `user`. */
export interface ScopeCursorsTable {
  scope: string;
  since: string | null;
  page: number;
  etag: string | null;
  updated_at: string;
  /** Last pass that completed (200 or 304). */
  last_polled_at: string | null;
  last_error: string | null;
  last_error_at: string | null;
}

/** Small facts the daemon remembers between runs (e.g. the rate-limit budget last seen). */
export interface StateTable {
  key: string;
  value: string;
  updated_at: string;
}

/** Why setup last failed for a configured repository; deleted when it passes. */
export interface SetupFailuresTable {
  owner: string;
  name: string;
  error: string;
  failed_at: string;
}

/** Daemons using this database, each with its heartbeat (one per `run` process). */
export interface InstancesTable {
  id: string;
  host: string;
  pid: number;
  version: string;
  started_at: string;
  heartbeat_at: string;
}

/** Recent GitHub writes of a credential (sha256 of the token, first 16 hex), one row each, across daemons: the shared write budget. */
export interface GithubWritesTable {
  credential: string;
  /** Epoch ms, the writing daemon's clock. */
  at: number;
  /** The daemon (instances.id) that made it. */
  instance: string;
}

/** A credential's shared hold (the latest learnt by any daemon); also the row a write reservation locks on PostgreSQL. */
export interface GithubHoldsTable {
  credential: string;
  /** Epoch ms; 0 or past: no hold. */
  hold_until: number;
  reason: string;
  updated_at: string;
}

/** A work unit only one daemon does at a time, and its lease (010). */
export interface WorkLeasesTable {
  /** `discovery`, `stream:<org>` or `repo:<repositoryId>`. */
  unit: string;
  /** The holding daemon's instance id; null while free. */
  owner: string | null;
  /** When the lease runs out unless renewed; a free unit keeps when it was released. */
  expires_at: string | null;
  acquired_at: string | null;
  /** Acquisitions so far: each new holder increments it. */
  fence: Generated<number>;
}

export interface Schema {
  repositories: RepositoriesTable;
  issues: IssuesTable;
  sync_cursors: SyncCursorsTable;
  scope_cursors: ScopeCursorsTable;
  jobs: JobsTable;
  state: StateTable;
  setup_failures: SetupFailuresTable;
  instances: InstancesTable;
  work_leases: WorkLeasesTable;
  github_writes: GithubWritesTable;
  github_holds: GithubHoldsTable;
}

export type IssueRow = Selectable<IssuesTable>;
export type NewIssueRow = Insertable<IssuesTable>;
export type JobRow = Selectable<JobsTable>;
export type RepositoryRow = Selectable<RepositoriesTable>;
