/**
 * What the kill campaign (kill-campaign.ts) changes on GitHub between rounds,
 * and the ledger of what it asked for, which the verdict
 * (kill-campaign-verdict.ts) holds the daemon to.
 *
 * Every step draws the same number of random values whatever it finds, so a
 * seed gives the same stream of decisions; which issue a decision lands on
 * may still depend on what the daemon got done before it was killed.
 */
import type { Simulator } from '../../src/simulator/index.js';
import { answersOf, LABEL } from './kill-campaign-verdict.js';

/** Who wrote a mention of @autosolve: a member or an owner asks; a stranger, a bot or a quote does not. */
export type MentionKind = 'member' | 'owner' | 'stranger' | 'bot' | 'quoted';

export interface Mention {
  readonly owner: string;
  readonly name: string;
  readonly number: number;
  readonly kind: MentionKind;
  /** Whether it asks for a reply; an edit may make a quote ask, no edit takes a question back. */
  asks: boolean;
}

export interface Changes {
  issues: number;
  /** Edits of issues before or without an answer. */
  edits: number;
  /** Edits of the title or body of answered issues: each asks for a revision. */
  answeredEdits: number;
  askingMentions: number;
  quietMentions: number;
  mentionEdits: number;
}

/** What the campaign asked for. */
export class Ledger {
  /** `owner/name#number` of the issues labelled when opened (none is ever unlabelled or closed). */
  readonly eligible = new Set<string>();
  /** Every comment the campaign wrote that mentions autosolve, by its id. */
  readonly mentions = new Map<number, Mention>();
  /**
   * `owner/name` of the repositories a daemon has listed. Their first sync time
   * is set (before the listing), so a mention written now is not history,
   * which the daemon never answers.
   */
  readonly synced = new Set<string>();
  readonly changes: Changes = { issues: 0, edits: 0, answeredEdits: 0, askingMentions: 0, quietMentions: 0, mentionEdits: 0 };
  /** Numbers the edits' texts, so that each edit changes the content hash. */
  #sequence = 0;

  next(): number {
    return ++this.#sequence;
  }
}

type Repository = { readonly owner: string; readonly name: string };

/**
 * One new issue (most of them asking for an answer) and sometimes an edit, as
 * ever; now also, sometimes, an edit of an answered issue (a revision), a
 * mention that asks, one that must not get a reply, and an edit of an earlier
 * mention. The daemon always has a little to do, and the queue stays short
 * enough for the final run to drain it.
 */
export function changeBetweenRounds(sim: Simulator, repositories: readonly Repository[], rand: () => number, ledger: Ledger): string[] {
  const done: string[] = [];
  const note = (what: string) => void done.push(what);
  addIssue(sim, repositories, rand, ledger, note);
  editAnsweredIssue(sim, repositories, rand, ledger, note);
  mention(sim, repositories, rand, ledger, note);
  quietMention(sim, repositories, rand, ledger, note);
  editMention(sim, rand, ledger, note);
  return done;
}

/** Says what a step changed (the bench's progress lines). */
type Note = (what: string) => void;

function pickFrom<T>(items: readonly T[], draw: number): T | undefined {
  return items[Math.floor(draw * items.length)];
}

function addIssue(sim: Simulator, repositories: readonly Repository[], rand: () => number, ledger: Ledger, note: Note): void {
  const { owner, name } = pickFrom(repositories, rand()) as Repository;
  const labelled = rand() < 0.8;
  const issue = sim.addIssue(owner, name, { title: `Bug ${Math.floor(rand() * 1e6)}`, body: 'It breaks.', labels: labelled ? [LABEL] : [] });
  ledger.changes.issues++;
  if (labelled) ledger.eligible.add(`${owner}/${name}#${issue.number}`);
  note(`opened ${owner}/${name}#${issue.number}${labelled ? '' : ' (unlabelled)'}`);
  const existing = sim.issues(owner, name);
  if (existing.length > 3 && rand() < 0.3) {
    const target = pickFrom(existing, rand());
    if (target && target.state === 'open') {
      sim.updateIssue(owner, name, target.number, { body: `Edited ${ledger.next()}` });
      ledger.changes.edits++;
      note(`edited the body of ${owner}/${name}#${target.number}`);
    }
  }
}

/** The title, the body or both of an issue that has an answer: the answer must follow. */
function editAnsweredIssue(sim: Simulator, repositories: readonly Repository[], rand: () => number, ledger: Ledger, note: Note): void {
  const [chance, which, what] = [rand(), rand(), rand()];
  if (chance >= 0.35) return;
  const answered = repositories.flatMap(({ owner, name }) =>
    sim.issues(owner, name).filter((issue) => issue.state === 'open' && answersOf(sim.comments(owner, name, issue.number)).length > 0),
  );
  const target = pickFrom(answered, which);
  if (target === undefined) return;
  const n = ledger.next();
  const patch = what < 1 / 3 ? { title: `Bug ${n} (retitled)` } : what < 2 / 3 ? { body: `It breaks, version ${n}.` } : { title: `Bug ${n} (retitled)`, body: `Steps ${n}.` };
  sim.updateIssue(target.owner, target.repo, target.number, patch);
  ledger.changes.answeredEdits++;
  note(`edited the ${Object.keys(patch).join(' and ')} of ${target.owner}/${target.repo}#${target.number}, answered`);
}

/** Open issues (answered or not, labelled or not) of the repositories a daemon has listed. */
function mentionable(sim: Simulator, repositories: readonly Repository[], ledger: Ledger) {
  return repositories
    .filter(({ owner, name }) => ledger.synced.has(`${owner}/${name}`))
    .flatMap(({ owner, name }) => sim.issues(owner, name).filter((issue) => issue.state === 'open'));
}

/** A member or an owner asks @autosolve something: exactly one reply is due. */
function mention(sim: Simulator, repositories: readonly Repository[], rand: () => number, ledger: Ledger, note: Note): void {
  const [chance, which, who, how] = [rand(), rand(), rand(), rand()];
  if (chance >= 0.5) return;
  const target = pickFrom(mentionable(sim, repositories, ledger), which);
  if (target === undefined) return;
  const n = ledger.next();
  const kind: MentionKind = who < 0.5 ? 'member' : 'owner';
  const body = how < 0.5 ? `@autosolve does this happen on version ${n}?` : `Thanks @AutoSolve. What about case ${n}?`;
  const comment = sim.addComment(target.owner, target.repo, target.number, {
    body,
    user: kind === 'member' ? 'maintainer' : 'lead',
    authorAssociation: kind === 'member' ? 'MEMBER' : 'OWNER',
  });
  ledger.mentions.set(comment.id, { owner: target.owner, name: target.repo, number: target.number, kind, asks: true });
  ledger.changes.askingMentions++;
  note(`asked in comment ${comment.id} on ${target.owner}/${target.repo}#${target.number} (${kind})`);
}

/** A mention that must get no reply: a stranger's, a bot's, or a trusted author quoting one. */
function quietMention(sim: Simulator, repositories: readonly Repository[], rand: () => number, ledger: Ledger, note: Note): void {
  const [chance, which, who] = [rand(), rand(), rand()];
  if (chance >= 0.35) return;
  const target = pickFrom(mentionable(sim, repositories, ledger), which);
  if (target === undefined) return;
  const kind = pickFrom(['stranger', 'bot', 'quoted'] as const, who) as MentionKind;
  const n = ledger.next();
  const input =
    kind === 'stranger'
      ? { body: `@autosolve please fix it (${n})`, user: 'passer-by', authorAssociation: 'NONE' as const }
      : kind === 'bot'
        ? { body: `@autosolve run the checks (${n})`, user: 'ci', bot: true, authorAssociation: 'MEMBER' as const }
        : { body: `> @autosolve please fix it (${n})\n\nPlease do not ask the bot that.`, user: 'lead', authorAssociation: 'OWNER' as const };
  const comment = sim.addComment(target.owner, target.repo, target.number, input);
  ledger.mentions.set(comment.id, { owner: target.owner, name: target.repo, number: target.number, kind, asks: false });
  ledger.changes.quietMentions++;
  note(`mentioned without asking in comment ${comment.id} on ${target.owner}/${target.repo}#${target.number} (${kind})`);
}

/**
 * An earlier mention edited: a question stays a question (answered already or
 * not, it gets one reply); a stranger's or a bot's stays unanswerable; a quote
 * sometimes gains a question of the owner's own, and from then on asks.
 */
function editMention(sim: Simulator, rand: () => number, ledger: Ledger, note: Note): void {
  const [chance, which, turn] = [rand(), rand(), rand()];
  if (chance >= 0.25) return;
  const entry = pickFrom([...ledger.mentions], which);
  if (entry === undefined) return;
  const [id, mention] = entry;
  const n = ledger.next();
  let body: string;
  if (mention.kind === 'quoted' && !mention.asks && turn < 0.5) {
    body = `> @autosolve please fix it\n\n@autosolve what would you suggest instead? (edited ${n})`;
    mention.asks = true;
  } else if (mention.kind === 'quoted') {
    body = mention.asks ? `> @autosolve please fix it\n\n@autosolve and on Windows? (edited ${n})` : `> @autosolve please fix it\n\nPlease do not (edited ${n}).`;
  } else if (mention.kind === 'bot') {
    body = `@autosolve run the checks again (edited ${n})`;
  } else if (mention.kind === 'stranger') {
    body = `@autosolve please fix it now (edited ${n})`;
  } else {
    body = `@autosolve does this happen on version ${n}? (edited)`;
  }
  sim.editComment(mention.owner, mention.name, id, body);
  ledger.changes.mentionEdits++;
  note(`edited comment ${id} on ${mention.owner}/${mention.name}#${mention.number} (${mention.kind}${mention.asks ? ', asks' : ''})`);
}
