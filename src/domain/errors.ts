/**
 * Domain errors: what failed, in our words, with the adapter's error attached
 * as `cause` (its classification travels along the cause chain).
 */
import { fullName, type RepositoryRef } from './entities.js';

export class ValidateRepositoryError extends Error {
  constructor(repository: RepositoryRef, options: { cause: unknown }) {
    super(`cannot validate ${fullName(repository)}`, options);
    this.name = 'ValidateRepositoryError';
  }
}

export class FetchIssuesError extends Error {
  constructor(repository: RepositoryRef, options: { cause: unknown }) {
    super(`cannot poll the issues of ${fullName(repository)}`, options);
    this.name = 'FetchIssuesError';
  }
}

export class FetchCommentsError extends Error {
  constructor(repository: RepositoryRef, options: { cause: unknown }) {
    super(`cannot poll the comments of ${fullName(repository)}`, options);
    this.name = 'FetchCommentsError';
  }
}

export class DispatchError extends Error {
  constructor(repository: string, number: number, step: string, options: { cause: unknown }) {
    super(`cannot answer ${repository}#${number}: ${step} failed`, options);
    this.name = 'DispatchError';
  }
}
