/**
 * Skips that cannot hide. A test that needs something this machine lacks
 * (a browser) is skipped with the reason where that is acceptable, and fails
 * where the environment promises to have it: CI sets the variable named by the
 * requirement (.ci/run sets AUTOSOLVE_REQUIRE_BROWSER=1), so a CI image that
 * lost its browser turns the run red instead of quietly testing less.
 */
import { it } from 'node:test';

export interface Requirement {
  /** What the tests need, for the failure's title: "Chromium at /usr/bin/chromium". */
  readonly what: string;
  /** Why it is missing here, or false when it is present. */
  readonly missing: string | false;
  /** The environment variable that makes a missing requirement a failure; set to "1" in CI. */
  readonly requiredBy: string;
}

/**
 * The `skip` option for the tests that need the requirement. When it is
 * missing and required, the tests stay skipped (they cannot run) and one
 * failing test is added in the caller's suite, naming what is missing and why
 * it is required; when it is missing and not required, the tests are skipped
 * with the reason.
 */
export function skipUnlessAvailable(requirement: Requirement, env: NodeJS.ProcessEnv = process.env): string | false {
  if (requirement.missing === false) return false;
  const reason = requirement.missing;
  if (env[requirement.requiredBy] === '1') {
    void it(`${requirement.what} is available (required: ${requirement.requiredBy}=1)`, () => {
      throw new Error(`${reason}; ${requirement.requiredBy}=1 says this environment must have it, so its tests cannot be skipped`);
    });
  }
  return reason;
}

/** Root ignores file permissions, so a test about a permission error cannot provoke one as root. */
export const runningAsRoot: string | false = process.getuid?.() === 0
  ? 'running as root, which ignores file permissions: run as an ordinary user to exercise this'
  : false;
