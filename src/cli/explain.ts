/**
 * `autosolve explain owner/name#N`: what the daemon would do with one real
 * issue, from the terminal. It reads the issue from GitHub, shows each rule's
 * verdict and which one decides, renders the prompt, runs the executor and
 * prints the answer. It posts the answer (as the daemon would, scrubbed) only
 * with --post, and never a second autosolve comment on an issue.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { ConfigError, defaultExecutorRequirements } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { buildExecutors, type Executors } from '../composition/executors.js';
import { knownSecrets } from '../composition/executor-settings.js';
import { formatComment } from '../domain/comment.js';
import { contentHash } from '../domain/content-hash.js';
import type { Comment, Issue, RepositoryRef } from '../domain/entities.js';
import { describeError } from '../domain/failure.js';
import type { ExecutorOutput } from '../domain/ports.js';
import { DEFAULT_PROMPT, renderPrompt } from '../domain/prompt.js';
import { isAnswer, isReplyTo } from '../domain/marker.js';
import type { MentionSettings } from '../domain/mention.js';
import { DEFAULT_EXECUTOR, RULE_EVENTS, Router, type Route, type RuleEvent } from '../domain/rules.js';
import { scrubSecrets } from '../domain/scrub.js';
import { GitHubClient } from '../infra/github/index.js';
import { USER_AGENT } from '../version.js';
import { UsageError, UserFacingError } from './errors.js';
import { parseCommentId, promptIssue, readMention, renderMentionPrompt } from './explain-mention.js';
import { decide, printAnswer, printDecision, printIssue, printMention, printPrompt, printVerdicts, type Decision, type Overrides } from './explain-text.js';
import { loadFor, withConfigOption, type ConfigOption } from './shared.js';

interface ExplainFlags extends ConfigOption {
  readonly rule?: string;
  readonly executor?: string;
  readonly prompt?: string;
  /** Default: opened, or mention with --comment. */
  readonly event?: RuleEvent;
  readonly comment?: string;
  readonly post?: boolean;
}

interface Target extends RepositoryRef {
  readonly number: number;
}

/** The flags once checked: the event to route and, for a mention, the comment asked about. */
interface Asked {
  readonly event: RuleEvent;
  readonly commentId: number | undefined;
  readonly post: boolean;
}

export function explainCommand(): Command {
  return withConfigOption(new Command('explain'))
    .description('show how one issue (or one mention on it) is routed (each rule\'s verdict), the prompt and the answer; post it only with --post')
    .argument('<issue>', 'the issue: owner/name#number (or its github.com address)')
    .option('--rule <index>', 'use this rule\'s executor and prompt, as if it matched (rules[index])')
    .option('--executor <name>', 'run this executor instead (default, or a name under executors:)')
    .option('--prompt <file>', 'use the template in this file instead')
    .addOption(new Option('--event <event>', 'the event to route (default: opened, or mention with --comment)').choices(RULE_EVENTS))
    .option('--comment <id>', 'for --event mention: the comment asking (its id or #issuecomment- link; default: the newest that mentions ai.mention)')
    .option('--post', 'post the answer (a reply, for a mention) on the issue, as the daemon would (never without it)')
    .action(async (issue: string, flags: ExplainFlags) => {
      const target = parseTarget(issue);
      const asked = parseAsked(flags);
      const { config, file } = loadFor(flags, false);
      if (!config.github.token) throw new ConfigError(file ?? 'defaults and environment', ['github.token: required (or set AUTOSOLVE_GITHUB_TOKEN or GITHUB_TOKEN)']);
      const overrides = parseOverrides(flags, config);
      await explain(config, target, asked, overrides);
    });
}

function parseAsked(flags: ExplainFlags): Asked {
  const commentId = flags.comment === undefined ? undefined : parseCommentId(flags.comment);
  const event = flags.event ?? (commentId === undefined ? 'opened' : 'mention');
  if (commentId !== undefined && event !== 'mention') throw new UsageError(`explain --comment is for --event mention, not ${event}`);
  return { event, commentId, post: flags.post === true };
}

/** `owner/name#12` or `https://github.com/owner/name/issues/12` (also `/pull/12`). */
function parseTarget(text: string): Target {
  const short = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)#(\d+)$/.exec(text.trim());
  const long = /^https?:\/\/[^/]+\/([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)\/(?:issues|pull)\/(\d+)\/?$/.exec(text.trim());
  const [, owner, name, number] = short ?? long ?? [];
  if (owner === undefined || name === undefined || number === undefined || Number(number) < 1) {
    throw new UsageError(`explain: expected owner/name#number (e.g. acme/api#12), got "${text}"`);
  }
  return { owner, name, number: Number(number) };
}

/** Every flag checked before any request: a typo costs no GitHub call and no model run. */
function parseOverrides(flags: ExplainFlags, config: Config): Overrides {
  const overrides: { rule?: number; executor?: string; prompt?: { file: string; text: string } } = {};
  if (flags.rule !== undefined) {
    if (!/^\d+$/.test(flags.rule)) throw new UsageError(`explain --rule: expected a rule index (0 for rules[0]), got "${flags.rule}"`);
    const rule = Number(flags.rule);
    if (rule >= config.rules.length) {
      const have = config.rules.length === 0 ? 'the configuration has no rules' : `rules[0] to rules[${config.rules.length - 1}]`;
      throw new UsageError(`explain --rule ${rule}: no such rule (${have})`);
    }
    overrides.rule = rule;
  }
  if (flags.executor !== undefined) {
    const known = [DEFAULT_EXECUTOR, ...Object.keys(config.executors)];
    if (!known.includes(flags.executor)) throw new UsageError(`explain --executor ${flags.executor}: no executor named "${flags.executor}" (known: ${known.join(', ')})`);
    overrides.executor = flags.executor;
  }
  if (flags.prompt !== undefined) overrides.prompt = readPrompt(flags.prompt);
  return overrides;
}

function readPrompt(path: string): { file: string; text: string } {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`explain --prompt ${file}: ${code === 'ENOENT' ? 'file not found' : `cannot be read (${code ?? 'error'})`}`);
  }
  if (text.trim() === '') throw new UsageError(`explain --prompt ${file}: the file is empty`);
  return { file, text };
}

async function explain(config: Config, target: Target, asked: Asked, overrides: Overrides): Promise<void> {
  const github = githubClient(config);
  const settings: MentionSettings = { handle: config.ai.mention, allowed: config.ai.mentionFrom };
  await withInterrupt(async (signal) => {
    const repository = await fromGitHub(() => github.getRepository(target, signal));
    const canonical: RepositoryRef = { owner: repository.owner, name: repository.name };
    const issue = await fromGitHub(() => github.getIssue(canonical, target.number, signal));
    const full = `${canonical.owner}/${canonical.name}`;
    const where = `${full}#${issue.number}`;
    const thread = () => fromGitHub(() => github.listComments(canonical, issue.number, signal));
    const mention = asked.event === 'mention' ? readMention(await thread(), asked.commentId, settings, where) : undefined;
    printIssue(full, issue, asked.event, mention !== undefined && mention.question !== null);
    if (mention !== undefined) printMention(mention, settings);

    const router = new Router(config.rules, { requiredLabel: config.github.issues.requiredLabel });
    // A mention is routed by its comment's author; with no comment to go by, the issue's author stands in.
    const actor = mention?.question === null || mention === undefined ? issue.authorAssociation : mention.question.authorAssociation;
    const explanation = router.explain({ repository: full, issue, event: asked.event, ...(actor === undefined ? {} : { actorAssociation: actor }) });
    printVerdicts(explanation, config.rules.length);
    const route: Route = mention?.asks?.asks === false ? { kind: 'none', reason: `the comment does not ask for a follow-up: ${mention.asks.reason}` } : explanation.route;
    const decision = decide(route, config.rules, overrides);
    printDecision(route, decision, overrides);
    if (decision.kind === 'nothing') return;

    const question = mention?.question;
    if (question === null) throw new UsageError(`explain --event mention: no comment on ${where} mentions ${handleOf(settings)}: give --comment ID`);
    // The post would be refused: no model run for it.
    const refuseSecond = async () => (question === undefined ? refuseSecondAnswer(where, await thread()) : refuseSecondReply(where, question, await thread()));
    if (asked.post) await refuseSecond();
    const executors = buildExecutors(config, { onStderr: (line) => process.stderr.write(`executor stderr: ${line}\n`) });
    const prompt =
      mention === undefined || question === undefined
        ? renderPrompt(decision.prompt ?? config.ai.prompt ?? DEFAULT_PROMPT, promptIssue(full, issue), config.ai.maxBodyChars)
        : renderMentionPrompt(decision.prompt, promptIssue(full, issue), { ...mention, question }, config.ai.maxBodyChars);
    printPrompt(prompt);
    const output = await runExecutor(config, executors, decision, full, issue, prompt, signal);
    const secrets = knownSecrets(config);
    printAnswer(output, scrubSecrets(output.text, secrets).text);

    if (!asked.post) {
      process.stdout.write(`not posted: add --post to post this ${question === undefined ? 'answer' : 'reply'} on ${where}\n`);
      return;
    }
    await refuseSecond();
    // As the daemon writes it: an answer says what it answered (its hash), a reply which comment it answers.
    const body = question === undefined ? formatComment(output, { hash: contentHash(issue) }) : formatComment(output, { replyTo: question });
    const posted = await fromGitHub(() => github.createComment(canonical, issue.number, scrubSecrets(body, secrets).text, signal));
    process.stdout.write(`posted: ${posted.htmlUrl}\n`);
  });
}

/** Never a second answer: a reply to a mention does not count as one, as for the daemon. */
function refuseSecondAnswer(where: string, comments: readonly Comment[]): void {
  const ours = comments.find((comment) => isAnswer(comment.body));
  if (ours !== undefined) {
    throw new UserFacingError(`${where} already has an autosolve comment answering it (${ours.htmlUrl}); not posting a second one (delete it to post again)`);
  }
}

function refuseSecondReply(where: string, question: Comment, comments: readonly Comment[]): void {
  const reply = comments.find((comment) => isReplyTo(comment.body, question.githubId));
  if (reply !== undefined) {
    throw new UserFacingError(`comment ${question.githubId} on ${where} already has an autosolve reply (${reply.htmlUrl}); not posting a second one (delete it to post again)`);
  }
}

function handleOf(settings: MentionSettings): string {
  return `@${settings.handle.trim().replace(/^@/, '')}`;
}

async function runExecutor(config: Config, executors: Executors, decision: Extract<Decision, { kind: 'run' }>, repository: string, issue: Issue, prompt: string, signal: AbortSignal): Promise<ExecutorOutput> {
  if (decision.executor === DEFAULT_EXECUTOR) {
    const problems = defaultExecutorRequirements(config);
    if (problems.length > 0) throw new ConfigError('the executor default', problems);
  }
  const executor = executors.get(decision.executor);
  try {
    return await executor.run({ ...promptIssue(repository, issue), body: issue.body ?? '', prompt }, signal);
  } catch (error) {
    throw new UserFacingError(`the executor ${decision.executor} (${executor.description}) failed: ${describeError(error)}`, { cause: error });
  }
}

/** GitHub's failures are the user's to read (exit 1), never a stack trace. */
async function fromGitHub<T>(request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    throw new UserFacingError(describeError(error), { cause: error });
  }
}

/**
 * The same throttle settings as the daemon, with this process's own write
 * budget: one comment at most, so it does not take the database's shared one
 * (explain needs no database).
 */
function githubClient(config: Config): GitHubClient {
  return new GitHubClient({
    baseUrl: config.github.baseUrl,
    token: config.github.token,
    timeoutMs: config.github.httpClientTimeout,
    userAgent: USER_AGENT,
    throttle: {
      minIntervalMs: config.github.rateLimit.minInterval,
      maxConcurrent: config.github.rateLimit.maxConcurrent,
      pointsPerMinute: config.github.rateLimit.pointsPerMinute,
      graphqlPointsPerMinute: config.github.rateLimit.graphqlPointsPerMinute,
      cpuMsPerMinute: config.github.rateLimit.cpuPerMinute,
    },
  });
}

/** Ctrl-C aborts the requests and the executor (its process group is killed). */
async function withInterrupt(work: (signal: AbortSignal) => Promise<void>): Promise<void> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => controller.abort(new Error(`received ${signal}`));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await work(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
