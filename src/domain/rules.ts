/**
 * Routing: which executor and prompt answer an event, or none. The rules are
 * ordered and the first whose conditions all hold decides; without rules one
 * implicit rule answers every event with the executor `default` and the
 * event's default prompt. In front of the rules, for `opened` and `edited`
 * only: pull requests and closed issues are never answered, and
 * github.issues.requiredLabel must be present. A `mention` by a trusted author
 * is an explicit request and passes (who is trusted is the comment poller's
 * business, not the router's).
 */
import picomatch from 'picomatch';
import type { Issue } from './entities.js';
import { TimedPattern, type PatternResult } from './pattern.js';

export type RuleEvent = 'opened' | 'edited' | 'mention';
export const RULE_EVENTS: readonly RuleEvent[] = ['opened', 'edited', 'mention'];

/** The executor a rule names unless it says otherwise: ai.provider & co. */
export const DEFAULT_EXECUTOR = 'default';

export interface RouteSubject {
  /** `owner/name`. */
  readonly repository: string;
  readonly issue: Pick<Issue, 'title' | 'body' | 'labels' | 'state' | 'isPullRequest' | 'authorAssociation'>;
  readonly event: RuleEvent;
  /** mention: the comment author's author_association. */
  readonly actorAssociation?: string | undefined;
}

export type Route =
  /** rule null: the implicit rule; prompt undefined: the event's default prompt. */
  | { readonly kind: 'run'; readonly rule: number | null; readonly executor: string; readonly prompt: string | undefined }
  | { readonly kind: 'skip'; readonly rule: number }
  | { readonly kind: 'none'; readonly reason: string };

/** One rule as the configuration gives it: every list non-empty when present, patterns valid. */
export interface RuleSpec {
  readonly when: {
    /** Any of these labels present (case-insensitive). */
    readonly label?: readonly string[] | undefined;
    /** None of these labels present (case-insensitive). */
    readonly labelAbsent?: readonly string[] | undefined;
    /** Regular expressions (flags `i`), run under a time limit. */
    readonly titleMatches?: string | undefined;
    readonly bodyMatches?: string | undefined;
    /** `owner/name` globs (`*`, `?`; ignoring case), any of them. */
    readonly repository?: readonly string[] | undefined;
    /** author_association values (upper case), any of them: the issue author's for opened/edited, the comment author's for mention. */
    readonly authorAssociation?: readonly string[] | undefined;
    readonly event?: readonly RuleEvent[] | undefined;
  };
  readonly then: {
    /** Stop here: no answer. */
    readonly skip: boolean;
    readonly executor: string;
    /** A template; undefined: the event's default prompt. */
    readonly prompt?: string | undefined;
  };
}

/** A pattern that ran out of time: counted as not matching; for the caller to log. */
export interface PatternGaveUp {
  readonly rule: number;
  readonly field: 'titleMatches' | 'bodyMatches';
  readonly pattern: string;
  readonly reason: string;
}

export interface RouterOptions {
  /** github.issues.requiredLabel: gates opened and edited (case-insensitive). Default: none. */
  readonly requiredLabel?: string | undefined;
  /** How long one pattern may run on one text. Default PATTERN_TIMEOUT_MS (1 s). */
  readonly patternTimeoutMs?: number;
  /** Told of every pattern that gave up (it counted as not matching). Default: nobody. */
  readonly onPatternGaveUp?: (event: PatternGaveUp) => void;
}

export interface RuleVerdict {
  /** The rule's index in `rules:`. */
  readonly rule: number;
  readonly matched: boolean;
  /** Why it did not match: one line per condition that failed, starting with the condition's name. Empty when it matched. */
  readonly reasons: readonly string[];
  readonly then: RuleSpec['then'];
}

export interface Explanation {
  readonly route: Route;
  /** Why the event never reaches the rules (a pull request, a closed issue, the required label), or null. */
  readonly gate: string | null;
  /** Every rule's verdict, in order, whatever the gate says; empty without rules (the implicit rule). */
  readonly rules: readonly RuleVerdict[];
}

/** A condition of one rule, compiled once: the reason it fails for a subject, or undefined when it holds. */
type Condition = (subject: RouteSubject) => string | undefined;

interface CompiledRule {
  readonly spec: RuleSpec;
  readonly conditions: readonly Condition[];
}

const NO_MATCH = 'no rule matches';

export class Router {
  private readonly rules: readonly CompiledRule[];
  private readonly requiredLabel: string | undefined;

  /** Throws on an invalid pattern; the configuration rejects those first, naming the rule. */
  constructor(rules: readonly RuleSpec[], options: RouterOptions = {}) {
    this.requiredLabel = options.requiredLabel;
    this.rules = rules.map((spec, index) => ({ spec, conditions: compile(spec, index, options) }));
  }

  route(subject: RouteSubject): Route {
    const gate = this.gate(subject);
    if (gate !== null) return { kind: 'none', reason: gate };
    if (this.rules.length === 0) return implicitRoute();
    const index = this.rules.findIndex((rule) => rule.conditions.every((condition) => condition(subject) === undefined));
    const decided = this.rules[index];
    return decided === undefined ? { kind: 'none', reason: NO_MATCH } : routeOf(decided.spec, index);
  }

  /** The route, and every rule's verdict with the reasons it did not match (for `autosolve explain`). */
  explain(subject: RouteSubject): Explanation {
    const gate = this.gate(subject);
    const rules = this.rules.map(({ spec, conditions }, rule): RuleVerdict => {
      const reasons = conditions.map((condition) => condition(subject)).filter((reason) => reason !== undefined);
      return { rule, matched: reasons.length === 0, reasons, then: spec.then };
    });
    const decided = rules.find((verdict) => verdict.matched);
    let route: Route;
    if (gate !== null) route = { kind: 'none', reason: gate };
    else if (this.rules.length === 0) route = implicitRoute();
    else route = decided === undefined ? { kind: 'none', reason: NO_MATCH } : routeOf(decided.then, decided.rule);
    return { route, gate, rules };
  }

  private gate(subject: RouteSubject): string | null {
    if (subject.event === 'mention') return null;
    if (subject.issue.isPullRequest) return `pull requests are answered only when mentioned, not when ${subject.event}`;
    if (subject.issue.state !== 'open') return `the issue is closed: only a mention is answered on a closed issue, not ${subject.event}`;
    if (this.requiredLabel !== undefined && !hasAny(subject.issue.labels, [this.requiredLabel])) {
      return `the issue lacks the label "${this.requiredLabel}" (github.issues.requiredLabel)`;
    }
    return null;
  }
}

function implicitRoute(): Route {
  return { kind: 'run', rule: null, executor: DEFAULT_EXECUTOR, prompt: undefined };
}

function routeOf(then: RuleSpec['then'] | RuleSpec, rule: number): Route {
  const action = 'then' in then ? then.then : then;
  return action.skip ? { kind: 'skip', rule } : { kind: 'run', rule, executor: action.executor, prompt: action.prompt };
}

function hasAny(labels: readonly string[], wanted: readonly string[]): boolean {
  const present = new Set(labels.map((label) => label.toLowerCase()));
  return wanted.some((label) => present.has(label.toLowerCase()));
}

/** The rule's conditions, cheapest first, so route() stops before running a pattern it does not need. */
function compile(spec: RuleSpec, index: number, options: RouterOptions): Condition[] {
  const { when } = spec;
  const conditions: Condition[] = [];
  if (when.event) {
    const events = when.event;
    conditions.push((s) => (events.includes(s.event) ? undefined : `event: ${s.event} is not ${events.join(' or ')}`));
  }
  if (when.repository) {
    const globs = when.repository;
    // GitHub names ignore case; `dot` so that `*` also takes `.github`; `*` never crosses the `/`.
    const matches = picomatch(globs, { nocase: true, dot: true });
    conditions.push((s) => (matches(s.repository) ? undefined : `repository: ${s.repository} matches none of ${globs.join(', ')}`));
  }
  if (when.authorAssociation) {
    const allowed = when.authorAssociation.map((value) => value.toUpperCase());
    conditions.push((s) => {
      const [whose, association] = s.event === 'mention' ? ['the comment author', s.actorAssociation] : ['the issue author', s.issue.authorAssociation];
      if (association !== undefined && allowed.includes(association.toUpperCase())) return undefined;
      return `authorAssociation: ${whose}'s is ${association ?? 'unknown'}, not ${allowed.join(' or ')}`;
    });
  }
  if (when.label) {
    const labels = when.label;
    conditions.push((s) => (hasAny(s.issue.labels, labels) ? undefined : `label: none of ${labels.join(', ')} is present (labels: ${describeLabels(s.issue.labels)})`));
  }
  if (when.labelAbsent) {
    const labels = when.labelAbsent;
    conditions.push((s) => {
      const present = s.issue.labels.filter((label) => hasAny([label], labels));
      return present.length === 0 ? undefined : `labelAbsent: ${present.join(', ')} is present`;
    });
  }
  if (when.titleMatches !== undefined) conditions.push(patternCondition('titleMatches', when.titleMatches, index, options, (s) => s.issue.title));
  if (when.bodyMatches !== undefined) conditions.push(patternCondition('bodyMatches', when.bodyMatches, index, options, (s) => s.issue.body ?? ''));
  return conditions;
}

function patternCondition(
  field: PatternGaveUp['field'],
  source: string,
  rule: number,
  options: RouterOptions,
  text: (subject: RouteSubject) => string,
): Condition {
  const pattern = new TimedPattern(source, options.patternTimeoutMs === undefined ? {} : { timeoutMs: options.patternTimeoutMs });
  const what = field === 'titleMatches' ? 'the title' : 'the body';
  return (subject) => {
    const result: PatternResult = pattern.test(text(subject));
    if (result.kind === 'match') return undefined;
    if (result.kind === 'no-match') return `${field}: ${String(pattern)} does not match ${what}`;
    options.onPatternGaveUp?.({ rule, field, pattern: source, reason: result.reason });
    return `${field}: ${String(pattern)} ${result.reason} on ${what} (counted as not matching)`;
  };
}

function describeLabels(labels: readonly string[]): string {
  return labels.length === 0 ? 'none' : labels.join(', ');
}
