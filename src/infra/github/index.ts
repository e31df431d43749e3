/** The GitHub adapter's public API; nothing outside this folder imports its other files. */
export { GitHubClient, type GitHubClientOptions } from './client.js';
export {
  RequestThrottle,
  installThrottle,
  type GitHubTelemetry,
  type ThrottleOptions,
  type ThrottleStats,
  type WaitReason,
  type WriteHistory,
} from './throttle.js';
export type { BudgetSnapshot, BudgetUse, PrimaryBudget } from './budget.js';
export { GitHubRequestError, SECONDARY_DEFAULT_WAIT_MS } from './errors.js';
export { UnexpectedGitHubPayloadError } from './mapping.js';
