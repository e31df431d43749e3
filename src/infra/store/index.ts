export { openDatabase, DatabaseOpenError, type Database } from './database.js';
export { SchemaMigrator, SchemaTooNewError, MIGRATION_NAMES, type MigrationStatus } from './migrator.js';
export { SqlIssueSyncStore } from './issue-sync.js';
export { SqlJobQueue, HANDLED_OUTCOMES, type QueueJobRecord } from './queue.js';
export { SqlRepositoryStore, SqlStateStore } from './repositories.js';
export type { Schema, QueueJobState } from './schema.js';
export { SqlIssueCatalog } from './issue-catalog.js';
export { StatusReader, RATE_LIMIT_STATE_KEY, type RepositoryStatus, type RateLimitStatus, type StoredRateLimit, type LatestComment, type QueueTotals } from './status.js';
export { SqlPauseStore, DISPATCHER_PAUSE_STATE_KEY } from './dispatcher-pause.js';
