/** A GitHub REST API simulator for the demo and the tests: the public surface. */
export { startSimulator } from './server.js';
export { loadScenario, parseScenario, ScenarioError } from './scenario.js';
export { demoScenario } from './demo.js';
export type {
  RateLimitState,
  Scenario,
  SimComment,
  SimCommentInput,
  SimFault,
  SimIssue,
  SimIssueInput,
  SimRepository,
  SimRequest,
  Simulator,
  SimulatorOptions,
} from './types.js';
