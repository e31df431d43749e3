/** A GitHub REST API simulator for the demo and the tests: the public surface. */
export { startSimulator } from './server.js';
export { loadScenario, parseScenario, ScenarioError } from './scenario.js';
export { demoScenario } from './demo.js';
export { SIM_AUTHOR_ASSOCIATIONS } from './types.js';
export type {
  Latency,
  RateLimitState,
  RepositoryGenerator,
  Scenario,
  SecondaryLimits,
  SimAuthorAssociation,
  SimBreach,
  SimBreachKind,
  SimComment,
  SimCommentInput,
  SimFault,
  SimIssue,
  SimIssueInput,
  SimReaction,
  SimRepository,
  SimRepositoryInput,
  SimRequest,
  Simulator,
  SimulatorOptions,
} from './types.js';
