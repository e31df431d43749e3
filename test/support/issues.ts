/** Issue entities for store-level tests. */
import type { Issue } from '../../src/domain/entities.js';

export function issue(githubId: number, overrides: Partial<Issue> = {}): Issue {
  return {
    githubId,
    number: githubId,
    title: `Issue ${githubId}`,
    body: `Body of ${githubId}`,
    state: 'open',
    isPullRequest: false,
    labels: ['autosolve'],
    author: 'alice',
    htmlUrl: `https://github.com/acme/api/issues/${githubId}`,
    commentsCount: 0,
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    ...overrides,
  };
}
