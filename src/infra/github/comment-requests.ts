/**
 * Conversation on GitHub: a repository's comment listing (what the comment poller reads) and reactions
 * to a comment. They go through the client's one door (`send`), so the throttle, the governor and the
 * error classification see them like every other request; a reaction is a POST, so the throttle paces
 * it as the write it is.
 */
import type { RepositoryRef } from '../../domain/entities.js';
import type { ListCommentsResult, ListIssuesRequest } from '../../domain/ports.js';
import { hasNextLink, toRepositoryComments } from './mapping.js';
import { describeRequest, etagOf, fullNameOf, refParams, type Transport } from './transport.js';

const PER_PAGE = 100;

/**
 * One page of the repository's comments on issues and pull requests, `updated` ascending from `since`
 * (inclusive), conditional on the ETag of the same request. Walking the pages is the caller's, as for
 * the issue listing: every item keeps its place (skipped ones too, with their `updated_at`), so the walk
 * can tell a listing that stalls or runs away.
 */
export async function listRepositoryComments(
  transport: Transport,
  repo: RepositoryRef,
  cursor: ListIssuesRequest,
  signal: AbortSignal,
): Promise<ListCommentsResult> {
  if (!Number.isSafeInteger(cursor.page) || cursor.page < 1) {
    throw new RangeError(`refusing to list page ${cursor.page} of the comments of ${fullNameOf(repo)}: pages start at 1`);
  }
  const request = describeRequest(repo, 'GET', '/issues/comments', `list comments of ${fullNameOf(repo)}`, 'it');
  const params: Record<string, unknown> = {
    ...refParams(repo),
    sort: 'updated',
    direction: 'asc',
    per_page: PER_PAGE,
    page: cursor.page,
    ...(cursor.since === null ? {} : { since: cursor.since }),
    ...(cursor.etag === null ? {} : { headers: { 'if-none-match': cursor.etag } }),
  };
  const response = await transport.send(request, 'GET /repos/{owner}/{repo}/issues/comments', params, signal);
  if (response.status === 304) return { notModified: true };
  const { comments, skipped } = toRepositoryComments(transport.jsonBody(request, response));
  return { notModified: false, comments, skipped, hasNextPage: hasNextLink(response.headers.link), etag: etagOf(response) };
}

/** Adds a reaction to an issue comment; GitHub answers 200 when the token's user already made it, which is no error. */
export async function addReaction(
  transport: Transport,
  repo: RepositoryRef,
  commentId: number,
  content: 'eyes',
  signal: AbortSignal,
): Promise<void> {
  if (!Number.isSafeInteger(commentId) || commentId <= 0) {
    throw new RangeError(`refusing to react to comment ${commentId} of ${fullNameOf(repo)}: comment ids are positive integers`);
  }
  const request = describeRequest(
    repo,
    'POST',
    `/issues/comments/${commentId}/reactions`,
    `react to comment ${commentId} of ${fullNameOf(repo)}`,
    `comment ${commentId}`,
  );
  await transport.send(
    request,
    'POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions',
    { ...refParams(repo), comment_id: commentId, content },
    signal,
  );
}
