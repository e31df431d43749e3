/**
 * Edits that land in the store while a job about the same issue runs, in
 * process and deterministically: the real dispatcher, a real SQLite file, the
 * simulator, and the store taking the edit right before the job settles (the
 * queue's own `complete`, called a moment later). The store's enqueue finds
 * the job still live and leaves the edit to it, so the job settles with the
 * hash of the issue as stored when it was claimed: the queue compares it with
 * the stored one in the same transaction and queues the revision, which the
 * same (draining) pass then makes. The kill campaign found answers left stale
 * this way (seed 4242, chaos/repo-1#6). And the other side: GitHub ahead of
 * the store is no reason to ask again, or a revision would follow revisions
 * until the next poll.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { contentHash } from '../src/domain/content-hash.js';
import { ANSWER_JOB, REVISE_JOB } from '../src/domain/eligibility.js';
import type { Issue } from '../src/domain/entities.js';
import { answerMarker, readMarker } from '../src/domain/marker.js';
import type { JobResult, QueueJob } from '../src/domain/ports.js';
import { DEFAULT_PROMPT } from '../src/domain/prompt.js';
import { dispatcher } from '../src/domain/tasks/global/dispatcher.js';
import { SqlIssueCatalog, SqlIssueSyncStore, SqlJobQueue, SqlRepositoryStore, type Database } from '../src/infra/store/index.js';
import type { SimIssueInput, Simulator } from '../src/simulator/index.js';
import { simulator, TOKEN } from './support/daemon.js';
import { asSynced, capturingLog, client, executor } from './support/dispatch.js';
import { freshDatabase } from './support/store.js';

const V1 = { title: 'Crash on start', body: 'It crashes.' };
const V2 = { title: 'Crash on start with an empty config', body: 'It crashes when config.yml is empty.' };
const V3 = { title: 'Crash on start with an empty config file', body: 'It crashes when config.yml is empty or missing.' };
const cursor = { since: null, page: 1, etag: null };

/** The real queue; `beforeSettle` runs right before a job of the named type settles, as if another pass ran then. */
class InterleavedQueue extends SqlJobQueue {
  beforeSettle: { type: string; run: () => Promise<void> } | undefined;
  override async complete(job: QueueJob, result: JobResult): Promise<void> {
    const hook = this.beforeSettle;
    if (hook !== undefined && hook.type === job.type) {
      this.beforeSettle = undefined;
      await hook.run();
    }
    return super.complete(job, result);
  }
}

describe('conversation: an edit stored while a job about the issue runs', () => {
  let database: Database;
  let cleanup: () => Promise<void>;
  let sim: Simulator;
  let queue: InterleavedQueue;
  let sync: SqlIssueSyncStore;
  let repositoryId: number;
  /** GitHub's clock, a second on at each edit: a sync stores a change only when updated_at moved. */
  let clock = Date.parse('2026-06-01T00:00:00Z');
  const github = (issues: SimIssueInput[]) => simulator([{ owner: 'acme', name: 'api', issues }], { now: () => clock });

  beforeEach(async () => {
    ({ database, cleanup } = await freshDatabase());
    queue = new InterleavedQueue(database.db);
    sync = new SqlIssueSyncStore(database.db, { maxAttempts: 3, reanalyze: true });
    repositoryId = await new SqlRepositoryStore(database.db).record({ owner: 'acme', name: 'api' }, { githubId: 1, owner: 'acme', name: 'api', private: false, htmlUrl: '' });
  });
  afterEach(async () => {
    await sim.close();
    await cleanup();
  });

  /** The issue as the simulator has it now, as a sync would store it. */
  const current = (): Issue => asSynced(sim.issues('acme', 'api')[0]!);
  /** A sync of the issue as it is now, queueing its answer job when asked (a new issue's sync). */
  const store = (jobs: readonly string[] = []) => sync.save(repositoryId, [current()], cursor, jobs.map((type) => ({ type, issueGithubId: current().githubId })));
  /** The issue edited on GitHub, and that edit stored. */
  const editAndStore = async (to: typeof V1) => {
    clock += 1_000;
    sim.updateIssue('acme', 'api', 1, to);
    await store();
  };
  /** Settlements of the last pass; a pass that settles more than 20 jobs is stopped (a loop). */
  let settled: string[] = [];
  const pass = () => {
    settled = [];
    const loop = new AbortController();
    return dispatcher({
      observer: { jobSettled: ({ type, outcome }) => void (settled.push(`${type}:${outcome}`) > 20 && loop.abort()) },
      queue, catalog: new SqlIssueCatalog(database.db), github: client(sim), executor: executor(async (input) => `Answer for: ${input.title}`),
      interval: 1000, concurrency: 1, leaseMs: 30_000, requiredLabel: 'autosolve', promptTemplate: DEFAULT_PROMPT, maxBodyChars: 8000,
      dryRun: false, secrets: [TOKEN], log: capturingLog(), reanalyze: true,
      conversation: { revisions: queue, maxRevisionsPerIssue: 3, mention: { handle: '@autosolve', allowed: ['OWNER', 'MEMBER', 'COLLABORATOR'] } },
    }).work(loop.signal);
  };
  const answers = () => sim.comments('acme', 'api', 1).filter((c) => readMarker(c.body)?.kind === 'answer');
  const jobs = () => database.db.selectFrom('jobs').select(['type', 'state', 'outcome']).orderBy('id').execute();
  /** Our answer, for `answered`, on the issue: posted by a daemon killed before it settled. */
  const ourAnswerFor = (answered: typeof V1) => ({ body: `${answerMarker(contentHash(answered))}\n### 🤖 autosolve triage\n\nAnswer for: ${answered.title}` });

  it('an answer job that finds our answer already there settles so that the edit is revised', async () => {
    sim = await github([{ ...V1, labels: ['autosolve'], comments: [ourAnswerFor(V1)] }]);
    await store([ANSWER_JOB]);
    queue.beforeSettle = { type: ANSWER_JOB, run: () => editAndStore(V2) };
    await pass();
    assert.deepEqual(await jobs(), [
      { type: ANSWER_JOB, state: 'done', outcome: 'already-answered' },
      { type: REVISE_JOB, state: 'done', outcome: 'revised' },
    ]);
    assert.equal(answers().length, 1, 'one answer, edited in place');
    assert.deepEqual(readMarker(answers()[0]!.body), { kind: 'answer', hash: contentHash(V2) });
  });

  it('a revision that finds the answer current settles so that a newer edit is revised', async () => {
    sim = await github([{ ...V1, labels: ['autosolve'], comments: [ourAnswerFor(V1)] }]);
    await store([ANSWER_JOB]);
    await pass();
    // Edited to V2, and our answer revised for V2 by a daemon killed before it settled; then the edit stored: a revision is queued.
    clock += 1_000;
    sim.updateIssue('acme', 'api', 1, V2);
    sim.editComment('acme', 'api', answers()[0]!.id, ourAnswerFor(V2).body);
    await store();
    queue.beforeSettle = { type: REVISE_JOB, run: () => editAndStore(V3) };
    await pass();
    assert.deepEqual((await jobs()).map((j) => [j.type, j.state, j.outcome]), [
      [ANSWER_JOB, 'done', 'already-answered'],
      [REVISE_JOB, 'done', 'current'],
      [REVISE_JOB, 'done', 'revised'],
    ]);
    assert.equal(answers().length, 1);
    assert.deepEqual(readMarker(answers()[0]!.body), { kind: 'answer', hash: contentHash(V3) });
  });

  it('a revision of text newer than the store settles once: no revision follows until the store takes an edit', async () => {
    sim = await github([{ ...V1, labels: ['autosolve'], comments: [ourAnswerFor(V1)] }]);
    await store([ANSWER_JOB]);
    await pass();
    await editAndStore(V2);
    // Edited again on GitHub; the next poll has not stored it yet.
    clock += 1_000;
    sim.updateIssue('acme', 'api', 1, V3);
    await pass();
    assert.deepEqual(settled, ['revise:revised'], 'one revision, of the text GitHub has now');
    assert.deepEqual(readMarker(answers()[0]!.body), { kind: 'answer', hash: contentHash(V3) });
    await store();
    await pass();
    assert.deepEqual(settled, ['revise:current'], 'the store catching up asks once more, and the answer is current');
  });
});
