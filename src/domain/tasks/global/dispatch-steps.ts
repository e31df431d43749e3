/**
 * What every kind of queue job (answer, revise, follow-up) does on its way to
 * GitHub: run the executor its route names, read the issue or its comments
 * again, settle the job. The flows (answer-flow.ts, revise-flow.ts,
 * follow-up-flow.ts) are sequences of these steps.
 */
import { contentHash } from '../../content-hash.js';
import { FOLLOW_UP_JOB } from '../../eligibility.js';
import { fullName, type Comment, type Issue, type RepositoryRef } from '../../entities.js';
import { DispatchError } from '../../errors.js';
import type { ExecutorOutput, JobOutcome, JobRequest, QueueJob } from '../../ports.js';
import type { Route, RouteSubject } from '../../rules.js';
import { scrubSecrets } from '../../scrub.js';
import type { ResolvedDeps } from './dispatcher.js';
import type { Step } from './in-flight.js';
import type { Lease } from './lease.js';

/** The claim a flow works under. */
export interface Claim {
  /** Aborted on shutdown's abort and when the claim is lost. */
  readonly signal: AbortSignal;
  readonly lease: Lease;
  readonly step: Step;
}

/** One queue job being handled: what it is about and the claim it holds. */
export interface Handling {
  readonly deps: ResolvedDeps;
  readonly job: QueueJob;
  /** The issue as last synced. */
  readonly issue: Issue;
  readonly repository: RepositoryRef;
  readonly claim: Claim;
  /** `owner/name` and the issue number, for log lines. */
  readonly where: { readonly repository: string; readonly number: number };
}

export type Flow = (handling: Handling) => Promise<void>;

/** The marker appeared after the executor ran: someone answered meanwhile, with this comment. */
export class AnsweredMeanwhile extends Error {
  constructor(readonly body: string) {
    super('an answer appeared on the issue while the executor ran');
  }
}

/** The route the rules give this event; a `skip` or `none` settles the job (`skipped`, `not-eligible`) and returns undefined. */
export async function routeOrSettle(h: Handling, subject: Omit<RouteSubject, 'repository'>): Promise<Extract<Route, { kind: 'run' }> | undefined> {
  const route = h.deps.router.route({ ...subject, repository: h.where.repository });
  if (route.kind === 'run') return route;
  if (route.kind === 'skip') {
    h.deps.log.info({ ...h.where, rule: route.rule, event: subject.event }, `${label(h)}: rules[${route.rule}] says skip for ${subject.event}`);
    await settle(h, 'skipped');
  } else {
    await settle(h, 'not-eligible');
  }
  return undefined;
}

/** Runs the executor the route names on `prompt`, reporting it to the observer; failures wrapped as the job's. */
export async function runExecutor(h: Handling, route: Extract<Route, { kind: 'run' }>, issue: Issue, prompt: string): Promise<ExecutorOutput> {
  const { deps, where, claim } = h;
  const executor = deps.executorNamed(route.executor);
  const started = Date.now();
  claim.step.set(`running ${executor.description}`);
  try {
    const output = await executor.run(
      { repository: where.repository, number: issue.number, title: issue.title, body: issue.body ?? '', labels: issue.labels, url: issue.htmlUrl, prompt },
      claim.signal,
    );
    deps.observer?.executorFinished?.({ repository: where.repository, durationMs: Date.now() - started, ok: true });
    return output;
  } catch (cause) {
    deps.observer?.executorFinished?.({ repository: where.repository, durationMs: Date.now() - started, ok: false });
    throw new DispatchError(where.repository, issue.number, executor.description, { cause });
  }
}

/** The body with every known secret removed; logs how many were. */
export function scrubbed(h: Handling, body: string): { body: string; scrubbed: number } {
  const { text, scrubbed: count } = scrubSecrets(body, h.deps.secrets);
  if (count > 0) h.deps.log.warn({ ...h.where, scrubbed: count }, `${label(h)}: removed ${count} secret-looking strings from the comment before posting`);
  return { body: text, scrubbed: count };
}

/** Every comment of the issue, newest state. */
export async function readComments(h: Handling, signal: AbortSignal = h.claim.signal): Promise<Comment[]> {
  try {
    return await h.deps.github.listComments(h.repository, h.issue.number, signal);
  } catch (cause) {
    throw new DispatchError(h.where.repository, h.issue.number, 'reading the comments', { cause });
  }
}

/** The issue as GitHub has it now. */
export async function readIssue(h: Handling, why: string): Promise<Issue> {
  try {
    return await h.deps.github.getIssue(h.repository, h.issue.number, h.claim.signal);
  } catch (cause) {
    throw new DispatchError(fullName(h.repository), h.issue.number, why, { cause });
  }
}

/**
 * Settles the job. `then`: a job to queue in the same transaction (the answer
 * went out for text that changed meanwhile: a revision follows). An answer or
 * revision that leaves an answer on the issue settles with the hash of the
 * issue as stored when it was claimed, so that an edit a sync stored while it
 * ran (absorbed by this live job) still gets its revision (JobResult.claimedHash).
 */
export async function settle(h: Handling, outcome: JobOutcome, result: { url?: string; scrubbed?: number; then?: JobRequest } = {}): Promise<void> {
  const followsEdits = h.deps.reanalyze && h.job.type !== FOLLOW_UP_JOB && LEAVES_AN_ANSWER.has(outcome);
  await h.deps.queue.complete(h.job, {
    outcome,
    scrubbed: result.scrubbed ?? 0,
    ...(result.url === undefined ? {} : { commentUrl: result.url }),
    ...(result.then === undefined ? {} : { then: result.then }),
    ...(followsEdits ? { claimedHash: contentHash(h.issue) } : {}),
  });
  h.deps.observer?.jobSettled?.({ ...h.where, outcome, type: h.job.type });
  if (POSTED.has(outcome)) return;
  const fields = { repository: h.where.repository, issue: h.where.number, outcome };
  h.deps.log.info(h.job.type === 'answer' ? fields : { ...fields, type: h.job.type, comment: h.job.subjectId || undefined }, `${label(h)}: ${outcome}, nothing posted`);
}

const POSTED = new Set<JobOutcome>(['answered', 'revised']);
/** Outcomes after which the issue has an answer that must follow its edits. */
const LEAVES_AN_ANSWER = new Set<JobOutcome>(['answered', 'already-answered', 'revised', 'current']);

/** `acme/api#12`, with what the job is about when it is not the issue's answer. */
export function label(h: Handling): string {
  const base = `${h.where.repository}#${h.where.number}`;
  return h.job.type === 'answer' ? base : `${base} (${h.job.type}${h.job.subjectId ? ` of comment ${h.job.subjectId}` : ''})`;
}

/** Whether an error of this class is somewhere along the cause chain. */
export function hasCause(error: unknown, kind: new (...args: never[]) => Error): boolean {
  return causeOf(error, kind) !== undefined;
}

/** The first error of this class along the cause chain (the error itself included). */
export function causeOf<E extends Error>(error: unknown, kind: new (...args: never[]) => E): E | undefined {
  let link: unknown = error;
  for (let depth = 0; link instanceof Error && depth < 16; depth++) {
    if (link instanceof kind) return link;
    link = (link as { cause?: unknown }).cause;
  }
  return undefined;
}
