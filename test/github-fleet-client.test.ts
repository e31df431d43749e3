/**
 * The fleet's GitHub methods against the simulator over loopback: an
 * organisation's repositories, a scope's issue stream and the GraphQL sweep.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { failureKindOf } from '../src/domain/failure.js';
import { GitHubClient } from '../src/infra/github/index.js';
import { type Scenario, type Simulator, startSimulator } from '../src/simulator/index.js';

const TOKEN = 'ghp_fleetClientTestToken00000000000000000';
const signal = (): AbortSignal => new AbortController().signal;

let simulator: Simulator | undefined;
afterEach(async () => {
  await simulator?.close();
  simulator = undefined;
});

async function start(scenario: Scenario): Promise<{ sim: Simulator; client: GitHubClient }> {
  simulator = await startSimulator({ tokens: [TOKEN], scenario });
  const client = new GitHubClient({ baseUrl: simulator.url, token: TOKEN, timeoutMs: 10_000, userAgent: 'autosolve/test', throttle: { minIntervalMs: 0 } });
  return { sim: simulator, client };
}

void describe('GitHub fleet client', () => {
  void it('lists every repository of an organisation, page by page, with archived and topics', async () => {
    const { sim, client } = await start({ repositories: [], generate: [{ owner: 'acme', count: 250, archivedEvery: 5, topics: ['autosolve'] }] });

    const { repositories, skipped } = await client.listOrganizationRepositories('acme', signal());

    assert.equal(repositories.length, 250);
    assert.equal(skipped, 0);
    assert.equal(new Set(repositories.map((repo) => repo.githubId)).size, 250);
    assert.equal(repositories.filter((repo) => repo.archived).length, 50);
    assert.ok(repositories.every((repo) => repo.owner === 'acme' && repo.topics.includes('autosolve')));
    const pages = sim.requests.filter((request) => request.path === '/orgs/acme/repos');
    assert.equal(pages.length, 3);
    assert.deepEqual(
      { type: pages[0]?.query.type, sort: pages[0]?.query.sort, direction: pages[0]?.query.direction, per_page: pages[0]?.query.per_page },
      { type: 'all', sort: 'created', direction: 'asc', per_page: '100' },
    );
  });

  void it('fails an organisation the token cannot see as permanent', async () => {
    const { client } = await start({ repositories: [{ owner: 'acme', name: 'api' }] });
    const failure = await client.listOrganizationRepositories('nobody-here', signal()).then(() => undefined, (error: unknown) => error);
    assert.equal(failureKindOf(failure), 'permanent');
  });

  void it("streams an organisation's issues, each placed in its repository, then answers 304 with the ETag", async () => {
    const { sim, client } = await start({
      repositories: [
        { owner: 'acme', name: 'api', issues: [{ title: 'one' }, { title: 'two' }] },
        { owner: 'acme', name: 'web', issues: [{ title: 'three' }] },
        { owner: 'other', name: 'lib', issues: [{ title: 'elsewhere' }] },
      ],
    });

    const first = await client.listScopeIssues({ kind: 'organization', org: 'acme' }, { since: null, page: 1, etag: null }, signal());
    assert.equal(first.notModified, false);
    if (first.notModified) return;
    assert.deepEqual(first.items.map((item) => `${item.repository.owner}/${item.repository.name}: ${item.issue.title}`).sort(), ['acme/api: one', 'acme/api: two', 'acme/web: three']);
    assert.ok(first.items.every((item) => item.repository.githubId > 0));
    assert.equal(first.hasNextPage, false);
    const [request] = sim.requests;
    assert.deepEqual({ filter: request?.query.filter, state: request?.query.state, sort: request?.query.sort }, { filter: 'all', state: 'all', sort: 'updated' });

    const again = await client.listScopeIssues({ kind: 'organization', org: 'acme' }, { since: null, page: 1, etag: first.etag }, signal());
    assert.equal(again.notModified, true);

    const user = await client.listScopeIssues({ kind: 'user' }, { since: null, page: 1, etag: null }, signal());
    assert.equal(sim.requests.at(-1)?.path, '/issues');
    assert.equal(user.notModified, false);
  });

  void it('sweeps a batch in one query: the newest update of each repository, a failure only for the repository it concerns', async () => {
    const { sim, client } = await start({
      repositories: [
        { owner: 'acme', name: 'api', issues: [{ title: 'one' }, { title: 'two' }] },
        { owner: 'acme', name: 'empty' },
        { owner: 'acme', name: 'sso' },
      ],
    });
    const newest = sim.updateIssue('acme', 'api', 1, { title: 'one, edited' }).updatedAt;
    sim.injectFault({ kind: 'graphql-forbidden', repository: 'acme/sso' });

    const outcomes = await client.sweep(
      [
        { owner: 'acme', name: 'api' },
        { owner: 'acme', name: 'empty' },
        { owner: 'acme', name: 'gone' },
        { owner: 'acme', name: 'sso' },
      ],
      signal(),
    );

    assert.equal(sim.requests.filter((request) => request.path === '/graphql').length, 1);
    assert.deepEqual(outcomes[0], { ok: true, latestUpdatedAt: newest });
    assert.deepEqual(outcomes[1], { ok: true, latestUpdatedAt: null });
    assert.equal(outcomes[2]?.ok === false && outcomes[2].error, 'not-found');
    assert.equal(outcomes[3]?.ok === false && outcomes[3].error, 'forbidden');
  });

  void it('throws a classified error when the whole query fails, with HTTP 200 or 502', async () => {
    const { sim, client } = await start({ repositories: [{ owner: 'acme', name: 'api' }] });
    const batch = [{ owner: 'acme', name: 'api' }];

    sim.injectFault({ kind: 'graphql-timeout', status: 200, times: 1 });
    const timedOut = await client.sweep(batch, signal()).then(() => undefined, (error: unknown) => error);
    assert.equal(failureKindOf(timedOut), 'service');

    sim.injectFault({ kind: 'graphql-timeout', status: 502, times: 1 });
    const badGateway = await client.sweep(batch, signal()).then(() => undefined, (error: unknown) => error);
    assert.equal(failureKindOf(badGateway), 'service');

    assert.equal((await client.sweep(batch, signal()))[0]?.ok, true);
  });
});
