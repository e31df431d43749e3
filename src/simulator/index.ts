/** A GitHub REST API simulator for the demo and the tests: the public surface. */
export { startSimulator } from './server.js';
export { loadScenario, parseScenario, ScenarioError } from './scenario.js';
export { demoScenario } from './demo.js';
export type {
  Latency,
  RateLimitState,
  RepositoryGenerator,
  Scenario,
  SecondaryLimits,
  SimBreach,
  SimBreachKind,
  SimComment,
  SimCommentInput,
  SimFault,
  SimIssue,
  SimIssueInput,
  SimRepository,
  SimRepositoryInput,
  SimRequest,
  Simulator,
  SimulatorOptions,
} from './types.js';
