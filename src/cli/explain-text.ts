/** What `autosolve explain` decides from the route and the flags, and how it reads on the terminal. */
import type { SettledRule } from '../config/schema-rules.js';
import type { Issue } from '../domain/entities.js';
import type { MentionSettings } from '../domain/mention.js';
import type { ExecutorOutput } from '../domain/ports.js';
import { DEFAULT_EXECUTOR, type Explanation, type Route, type RuleEvent } from '../domain/rules.js';
import type { Mention } from './explain-mention.js';

/** The flags that override the route: a rule used as if it matched, an executor, a template. */
export interface Overrides {
  readonly rule?: number;
  readonly executor?: string;
  readonly prompt?: { readonly file: string; readonly text: string };
}

export type Decision =
  /** prompt undefined: the event's default prompt. */
  | { readonly kind: 'run'; readonly executor: string; readonly prompt: string | undefined }
  | { readonly kind: 'nothing'; readonly why: string };

/** The route, with --rule standing in for the rule that decided, and --executor/--prompt running even what would not run. */
export function decide(route: Route, rules: readonly SettledRule[], overrides: Overrides): Decision {
  let base = route;
  const forcedRule = overrides.rule === undefined ? undefined : rules[overrides.rule];
  if (overrides.rule !== undefined && forcedRule !== undefined) {
    const { then } = forcedRule;
    base = then.skip ? { kind: 'skip', rule: overrides.rule } : { kind: 'run', rule: overrides.rule, executor: then.executor, prompt: then.prompt };
  }
  if (base.kind === 'run') return { kind: 'run', executor: overrides.executor ?? base.executor, prompt: overrides.prompt?.text ?? base.prompt };
  if (overrides.executor !== undefined || overrides.prompt !== undefined) {
    return { kind: 'run', executor: overrides.executor ?? DEFAULT_EXECUTOR, prompt: overrides.prompt?.text };
  }
  return { kind: 'nothing', why: base.kind === 'skip' ? `rules[${base.rule}] says skip` : base.reason };
}

const WIDTH = 12;

function line(label: string, text: string): void {
  process.stdout.write(`${label.padEnd(WIDTH)}${text}\n`);
}

/** `byComment`: a mention with a comment to go by (its author is the one routed), not the issue's author standing in. */
export function printIssue(repository: string, issue: Issue, event: RuleEvent, byComment: boolean): void {
  line('repository', repository);
  line('issue', `#${issue.number} ${issue.title.replace(/[\r\n]+/g, ' ')}`);
  line('state', `${issue.state}${issue.isPullRequest ? ' (a pull request)' : ''}`);
  line('labels', issue.labels.length === 0 ? '(none)' : issue.labels.join(', '));
  line('author', `${issue.author ?? '(unknown)'}${issue.authorAssociation === undefined ? '' : ` (${issue.authorAssociation})`}`);
  line('url', issue.htmlUrl);
  line('event', event === 'mention' && !byComment ? 'mention (by the issue\'s author, standing in for the comment\'s)' : event);
}

/** The question of a mention, whether the daemon would queue a follow-up for it, and our reply if there is one. */
export function printMention(mention: Mention, settings: MentionSettings): void {
  const { question, asks } = mention;
  if (question === null) {
    line('comment', `none on the issue mentions ${settings.handle} outside quotes and code (give --comment ID)`);
    return;
  }
  const by = `${question.author ?? '(unknown)'}${question.authorAssociation === undefined ? '' : ` (${question.authorAssociation})`}`;
  line('comment', `${question.githubId} by ${by}${mention.chosen === 'newest' ? `, the newest mention of ${settings.handle}` : ''}`);
  line('', question.htmlUrl);
  for (const text of question.body.trim().split(/\r?\n/).slice(0, 6)) line('', `> ${text}`);
  line('asks', asks === null || asks.asks ? 'yes: the daemon would queue a follow-up for it' : `no: ${asks.reason}`);
  line('replied', mention.reply === undefined ? 'not yet' : `already: ${mention.reply.htmlUrl} (the daemon would not reply again)`);
}

/** Each rule's verdict; a rule that matches after the one that decided is marked as not reached. */
export function printVerdicts(explanation: Explanation, ruleCount: number): void {
  if (explanation.gate !== null) line('gate', `${explanation.gate}: the rules are not consulted for this event`);
  if (ruleCount === 0) {
    line('rules', 'none configured: one implicit rule answers every event with the executor default and the default prompt');
    return;
  }
  line('rules', 'in order; the first that matches decides');
  const decider = explanation.rules.find((verdict) => verdict.matched)?.rule;
  for (const verdict of explanation.rules) {
    const name = `  rules[${verdict.rule}]`.padEnd(WIDTH + 2);
    if (verdict.matched) {
      const reached = verdict.rule === decider ? '' : ` (not reached: rules[${decider}] decides first)`;
      process.stdout.write(`${name}matches  ${describeThen(verdict.then)}${reached}\n`);
      continue;
    }
    const [first, ...rest] = verdict.reasons;
    process.stdout.write(`${name}no       ${first ?? ''}\n`);
    for (const reason of rest) process.stdout.write(`${' '.repeat(WIDTH + 2)}         ${reason}\n`);
  }
}

function describeThen(then: SettledRule['then'] | Explanation['rules'][number]['then']): string {
  if (then.skip) return 'skip: answer nothing';
  return `executor ${then.executor}, ${describePrompt(then)}`;
}

function describePrompt(then: { readonly prompt?: string | undefined; readonly promptFile?: string }): string {
  if (then.promptFile !== undefined) return `the prompt in ${then.promptFile}`;
  return then.prompt === undefined ? 'the default prompt' : 'its own prompt';
}

export function printDecision(route: Route, decision: Decision, overrides: Overrides): void {
  line('decision', describeRoute(route));
  if (overrides.rule !== undefined) line('override', `--rule ${overrides.rule} overrides: rules[${overrides.rule}] is used as if it matched`);
  if (overrides.executor !== undefined) line('override', `--executor ${overrides.executor} overrides the executor`);
  if (overrides.prompt !== undefined) line('override', `--prompt ${overrides.prompt.file} overrides the prompt`);
  if (decision.kind === 'nothing') {
    // The decision line already says why, unless --rule chose another rule.
    const why = overrides.rule === undefined ? '' : ` (${decision.why})`;
    line('', `nothing to run${why}; give --rule, --executor or --prompt to run anyway`);
    return;
  }
  line('executor', decision.executor);
}

function describeRoute(route: Route): string {
  switch (route.kind) {
    case 'run':
      return route.rule === null
        ? `decided by the implicit rule: executor ${route.executor}, the default prompt`
        : `decided by rules[${route.rule}]: executor ${route.executor}, ${route.prompt === undefined ? 'the default prompt' : 'its own prompt'}`;
    case 'skip':
      return `skipped by rules[${route.rule}]: the daemon answers nothing`;
    case 'none':
      return `not answered: ${route.reason}`;
  }
}

export function printPrompt(prompt: string): void {
  process.stdout.write(`\n--- prompt ---\n${prompt.trimEnd()}\n`);
}

/** `text` is the answer as it would be posted: scrubbed of secrets. */
export function printAnswer(output: ExecutorOutput, text: string): void {
  process.stdout.write(`\n--- answer (${output.model}) ---\n${text.trimEnd()}\n---\n`);
}
