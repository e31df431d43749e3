/** The GitHub adapter's public API; nothing outside this folder imports its other files. */
export { GitHubClient, type GitHubClientOptions } from './client.js';
export {
  RequestThrottle,
  type GitHubTelemetry,
  type HoldReason,
  type SharedWriteBudget,
  type ThrottleOptions,
  type ThrottleStats,
  type WaitReason,
  type WriteRules,
} from './throttle.js';
export { installThrottle } from './throttle-hook.js';
export type { BudgetSnapshot, BudgetUse, PrimaryBudget } from './budget.js';
export { GitHubRequestError, SECONDARY_DEFAULT_WAIT_MS } from './errors.js';
export { UnexpectedGitHubPayloadError } from './mapping.js';
