/**
 * Conversation on a repository: every comment of its issues and pull requests in one listing (what a
 * comment poller reads), and reactions to a comment.
 */
import { paginate } from './pagination.js';
import { commentPayload, errors, reactionPayload } from './payloads.js';
import {
  DIRECTIONS,
  invalid,
  json,
  jsonFieldsOf,
  notFound,
  pageRequest,
  sinceOf,
  withRepository,
  type Reply,
  type Route,
  type RouteContext,
} from './route-kit.js';
import { isoSeconds, SIM_USER, type CommentRecord, type RepositoryRecord } from './state.js';

const COMMENT_SORTS = ['created', 'updated'];
/** GitHub's reaction types. */
const REACTION_CONTENTS = ['+1', '-1', 'laugh', 'confused', 'heart', 'hooray', 'rocket', 'eyes'];

/**
 * GET /repos/{owner}/{repo}/issues/comments. Without `sort`, ascending id and `direction` ignored (as
 * GitHub documents); with it, by that time, descending unless asked otherwise, ties by ascending id.
 * `since` keeps comments updated at or after it.
 */
function listRepositoryComments(context: RouteContext, repository: RepositoryRecord): Reply {
  const { search } = context;
  const sort = search.get('sort');
  const direction = search.get('direction') ?? 'desc';
  const since = sinceOf(search);
  if (sort !== null && !COMMENT_SORTS.includes(sort)) return invalid('IssueComment', 'sort');
  if (!(DIRECTIONS as readonly string[]).includes(direction)) return invalid('IssueComment', 'direction');
  if (Number.isNaN(since)) return invalid('IssueComment', 'since');
  // Comment times are whole seconds in one format: comparing the text is comparing the times.
  const from = since === null ? null : isoSeconds(Math.ceil(since / 1000) * 1000);
  const key = sort === 'updated' ? (c: CommentRecord) => c.updatedAt : sort === 'created' ? (c: CommentRecord) => c.createdAt : null;
  const sign = direction === 'asc' ? 1 : -1;
  const matching = context.state
    .issuesOf(repository)
    .flatMap((issue) => issue.comments)
    .filter((comment) => from === null || comment.updatedAt >= from)
    .sort((a, b) => (key === null ? 0 : sign * compareText(key(a), key(b))) || a.id - b.id);
  const page = paginate(pageRequest(context), matching);
  return {
    status: 200,
    body: page.items.map((comment) => commentPayload(context.state, context.base, comment)),
    headers: page.link ? { link: page.link } : {},
  };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** POST .../issues/comments/{comment_id}/reactions: 201 for a new reaction, 200 with the one the user already made. */
function createReaction(context: RouteContext, repository: RepositoryRecord, [id = '']: string[]): Reply {
  const comment = context.state.findComment(repository, Number(id));
  if (!comment) return notFound();
  const parsed = jsonFieldsOf(context.body);
  if ('error' in parsed) return parsed.error;
  const content = parsed.fields['content'];
  if (content === undefined) return { status: 422, body: errors.validationFailed('Reaction', 'content', 'missing_field') };
  if (typeof content !== 'string' || !REACTION_CONTENTS.includes(content)) return invalid('Reaction', 'content');
  const { reaction, created } = context.state.react(comment, SIM_USER, content);
  return json(reactionPayload(context.state, context.base, reaction), created ? 201 : 200);
}

const OWNER_REPO = String.raw`/repos/([^/]+)/([^/]+)`;

export const commentRoutes: Route[] = [
  {
    operationId: 'issues/list-comments-for-repo',
    method: 'GET',
    pattern: new RegExp(`^${OWNER_REPO}/issues/comments$`),
    handle: withRepository(listRepositoryComments),
  },
  {
    operationId: 'reactions/create-for-issue-comment',
    method: 'POST',
    pattern: new RegExp(`^${OWNER_REPO}/issues/comments/(\\d+)/reactions$`),
    handle: withRepository(createReaction),
  },
];
