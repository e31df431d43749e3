/**
 * The example scenario (`autosolve simulator --scenario examples/scenario.yml`) shows what the simulator
 * can seed for issue 12's conversation: read back through the real client, as the comment poller and the
 * dispatcher would read it, its issues carry who wrote them and its threads have a trusted member asking
 * `@autosolve`, untrusted and bot authors mentioning it, a mention only in a quote, and our earlier answer
 * whose marker says which content it answered.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { contentHash } from '../src/domain/content-hash.js';
import { COMMENT_MARKER, type RepositoryComment } from '../src/domain/entities.js';
import { GitHubClient } from '../src/infra/github/index.js';
import { loadScenario, type Simulator, startSimulator } from '../src/simulator/index.js';

const FILE = 'examples/scenario.yml';
const REPO = { owner: 'acme', name: 'api' };
const TRUSTED = ['OWNER', 'MEMBER', 'COLLABORATOR'];
const signal = (): AbortSignal => new AbortController().signal;

/** `@autosolve` on a line that is not quoted, not inside inline code, not followed by a name character. */
function mentionsOutsideQuotes(body: string): boolean {
  return body
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('>'))
    .map((line) => line.replace(/`[^`]*`/g, ''))
    .some((line) => /@autosolve(?![A-Za-z0-9_-])/i.test(line));
}

let simulator: Simulator | undefined;
let client: GitHubClient;
let comments: readonly RepositoryComment[] = [];

before(async () => {
  const scenario = loadScenario(FILE);
  const token = scenario.tokens?.[0] ?? 'sim-token';
  simulator = await startSimulator({ scenario });
  client = new GitHubClient({
    baseUrl: simulator.url,
    token,
    timeoutMs: 5_000,
    userAgent: 'autosolve/test',
    throttle: { minIntervalMs: 0, writeMinIntervalMs: 0 },
  });
  const listing = await client.listRepositoryComments(REPO, { since: null, page: 1, etag: null }, signal());
  assert.equal(listing.notModified, false);
  if (listing.notModified) return;
  assert.equal(listing.skipped.length, 0, 'every example comment maps');
  assert.equal(listing.hasNextPage, false);
  comments = listing.comments;
});

after(async () => {
  await simulator?.close();
});

void describe(`${FILE}: a conversation`, () => {
  void it('has a trusted member asking @autosolve, not a bot', () => {
    const asking = comments.filter(
      (comment) => TRUSTED.includes(comment.authorAssociation ?? '') && comment.authorIsBot === false && mentionsOutsideQuotes(comment.body),
    );
    assert.ok(asking.length >= 1, 'a MEMBER/OWNER/COLLABORATOR comment mentions @autosolve');
    assert.ok(asking.some((comment) => comment.authorAssociation === 'MEMBER'));
  });

  void it('has mentions that must not ask: an untrusted author, a bot, and a mention only in a quote', () => {
    assert.ok(
      comments.some((comment) => comment.authorAssociation === 'NONE' && comment.authorIsBot === false && mentionsOutsideQuotes(comment.body)),
      'a NONE author mentions @autosolve',
    );
    assert.ok(
      comments.some((comment) => comment.authorIsBot === true && /\[bot\]$/.test(comment.author ?? '') && /@autosolve/i.test(comment.body)),
      'a bot mentions @autosolve',
    );
    assert.ok(
      comments.some(
        (comment) => TRUSTED.includes(comment.authorAssociation ?? '') && /@autosolve/i.test(comment.body) && !mentionsOutsideQuotes(comment.body),
      ),
      'a trusted author quotes a mention without making one',
    );
  });

  void it('mentions @autosolve on a pull request too', async () => {
    const pulls = (simulator?.issues('acme', 'api') ?? []).filter((issue) => issue.pullRequest).map((issue) => issue.number);
    assert.ok(comments.some((comment) => pulls.includes(comment.issueNumber) && mentionsOutsideQuotes(comment.body)));
  });

  void it("carries our earlier answer, whose marker names the hash of the issue's current title and body", async () => {
    const answers = comments.filter((comment) => comment.body.startsWith(`${COMMENT_MARKER}\n`));
    assert.ok(answers.length >= 1, 'an answer with the marker on its first line');
    for (const answer of answers) {
      const hash = /^<!-- autosolve:answer hash=([0-9a-f]{16}) -->$/m.exec(answer.body)?.[1];
      assert.ok(hash, `comment ${answer.githubId} says what it answered`);
      const issue = await client.getIssue(REPO, answer.issueNumber, signal());
      assert.equal(hash, contentHash(issue), `the answer on #${answer.issueNumber} is current`);
      const later = comments.filter((comment) => comment.issueNumber === answer.issueNumber && comment.createdAt > answer.createdAt);
      assert.ok(later.some((comment) => mentionsOutsideQuotes(comment.body)), 'a follow-up mention comes after the answer');
    }
  });

  void it('says who wrote each issue', async () => {
    const listing = await client.listIssues(REPO, { since: null, page: 1, etag: null }, signal());
    assert.equal(listing.notModified, false);
    if (listing.notModified) return;
    const associations = new Set(listing.issues.map((issue) => issue.authorAssociation));
    assert.ok(associations.has('NONE') && associations.has('MEMBER'), `associations: ${[...associations].join(', ')}`);
  });
});
