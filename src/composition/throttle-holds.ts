/** Says out loud when the GitHub throttle holds requests long enough to look like a hang. */
import { formatDuration } from '../config/duration.js';
import type { Log } from '../domain/ports.js';
import type { WaitReason } from '../infra/github/index.js';

const HOLD_WORDS: Record<WaitReason, string> = {
  'primary-rate-limit': "GitHub's rate limit for the token is spent until its reset",
  'secondary-rate-limit': "GitHub's secondary rate limit",
  'retry-after': 'GitHub asked to wait (retry-after)',
  'write-pacing': 'the comment budget for the minute or the hour is spent',
  'rest-points': "the REST points of the minute (github.rateLimit.pointsPerMinute) are spent",
  'graphql-points': "the GraphQL points of the minute (github.rateLimit.graphqlPointsPerMinute) are spent",
  'cpu-time': "GitHub's estimated server time of the minute (github.rateLimit.cpuPerMinute) is spent",
  'primary-pacing': "the token's hourly budget is below half: requests are spread until its reset",
};

/** Holds long enough to look like a hang are said out loud. */
export function logLongHold(log: Log, info: { reason: WaitReason; waitMs: number }): void {
  if (info.waitMs < 10_000) return;
  log.info({ reason: info.reason, waitMs: info.waitMs }, `GitHub requests held for ${formatDuration(Math.ceil(info.waitMs / 1000) * 1000)}: ${HOLD_WORDS[info.reason]}`);
}
