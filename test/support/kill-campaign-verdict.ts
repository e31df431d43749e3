/**
 * The kill campaign's verdict (kill-campaign.ts): GitHub as the simulator has
 * it, held to what the campaign asked for (kill-campaign-changes.ts). Every
 * eligible issue has exactly one answer, for its title and body as they are
 * now; every mention that asks has exactly one reply; nothing else has any.
 * Read from the comments, as a user would: the daemon's database is not asked.
 */
import { contentHash } from '../../src/domain/content-hash.js';
import { readMarker } from '../../src/domain/marker.js';
import type { SimComment, Simulator } from '../../src/simulator/index.js';
import type { Ledger } from './kill-campaign-changes.js';
import type { WorkKind } from './kill-campaign-executor.js';

/** The label that asks for an answer (github.issues.requiredLabel). */
export const LABEL = 'autosolve';

export interface Verdict {
  /** Eligible issues at the end. */
  readonly eligible: number;
  /** Issues with two or more answers (must be 0). */
  readonly duplicates: number;
  /** Eligible issues without an answer (must be 0). */
  readonly missing: number;
  /** Answers on issues that were never eligible (must be 0). */
  readonly unwanted: number;
  /** Eligible issues whose answer is not for their title and body as they are now: an edit not reflected (must be 0). */
  readonly staleAnswers: number;
  /** Mentions that ask for a reply (a member's or an owner's, in their own words). */
  readonly asking: number;
  /** Mentions that ask and have no reply (must be 0). */
  readonly missedMentions: number;
  /** Replies beyond the first to one mention (must be 0). */
  readonly duplicateReplies: number;
  /** Replies to a comment that does not ask: a stranger's, a bot's, a quote (must be 0). */
  readonly unwantedReplies: number;
  /** Mentions replied to without the `eyes` reaction that says they were seen (must be 0). */
  readonly unseenMentions: number;
  /** Each of the failures above in words: which issue or comment, and what is wrong with it. */
  readonly findings: readonly string[];
}

/** The comments that are answers (our marker outside quotes, kind answer), oldest first. */
export function answersOf(comments: readonly SimComment[]): SimComment[] {
  return comments.filter((comment) => readMarker(comment.body)?.kind === 'answer');
}

/** The comment ids our replies on this thread answer, one entry per reply. */
function repliesOf(comments: readonly SimComment[]): number[] {
  return comments.flatMap((comment) => {
    const marker = readMarker(comment.body);
    return marker?.kind === 'reply' ? [marker.to] : [];
  });
}

export function verdict(sim: Simulator, repositories: ReadonlyArray<{ owner: string; name: string }>, ledger: Ledger): Verdict {
  let eligible = 0;
  let duplicates = 0;
  let missing = 0;
  let unwanted = 0;
  let staleAnswers = 0;
  let asking = 0;
  let missedMentions = 0;
  let duplicateReplies = 0;
  let unwantedReplies = 0;
  let unseenMentions = 0;
  const findings: string[] = [];
  for (const { owner, name } of repositories) {
    for (const issue of sim.issues(owner, name)) {
      const comments = sim.comments(owner, name, issue.number);
      const answers = answersOf(comments);
      const wanted = issue.state === 'open' && issue.labels.some((l) => l.toLowerCase() === LABEL);
      const where = `${owner}/${name}#${issue.number}`;
      const found = (finding: string) => findings.push(`${where}: ${finding}`);
      if (answers.length > 1) {
        duplicates++;
        found(`${answers.length} answers (comments ${answers.map((a) => a.id).join(', ')})`);
      }
      if (wanted) eligible++;
      if (wanted && answers.length === 0) {
        missing++;
        found('no answer');
      }
      if (answers.length > 0 && !ledger.eligible.has(where)) {
        unwanted++;
        found('an answer, never asked for');
      }
      const [answer] = answers;
      if (wanted && answers.length === 1 && answer !== undefined) {
        const marker = readMarker(answer.body);
        const hash = marker?.kind === 'answer' ? marker.hash : null;
        if (hash !== contentHash(issue)) {
          staleAnswers++;
          found(`answer ${answer.id} is for hash ${hash ?? '(none)'}, the title and body now hash to ${contentHash(issue)}`);
        }
      }
      const replies = new Map<number, number>();
      for (const to of repliesOf(comments)) replies.set(to, (replies.get(to) ?? 0) + 1);
      for (const [to, count] of replies) {
        const mention = ledger.mentions.get(to);
        const here = mention !== undefined && mention.owner === owner && mention.name === name && mention.number === issue.number;
        if (!here || !mention.asks) {
          unwantedReplies += count;
          found(`${count} replies to comment ${to}, which ${mention === undefined ? 'the campaign never wrote' : `does not ask (${mention.kind})`}`);
        } else if (count > 1) {
          duplicateReplies += count - 1;
          found(`${count} replies to comment ${to}`);
        }
      }
      for (const [id, mention] of ledger.mentions) {
        if (mention.owner !== owner || mention.name !== name || mention.number !== issue.number || !mention.asks) continue;
        asking++;
        if (!replies.has(id)) {
          missedMentions++;
          found(`no reply to comment ${id} (${mention.kind})`);
        } else if (!sim.reactions(owner, name, id).some((reaction) => reaction.content === 'eyes')) {
          unseenMentions++;
          found(`a reply to comment ${id}, without eyes on it`);
        }
      }
    }
  }
  return { eligible, duplicates, missing, unwanted, staleAnswers, asking, missedMentions, duplicateReplies, unwantedReplies, unseenMentions, findings };
}

/** Work the daemon has left to do, by kind, as GitHub shows it: where a kill point of that kind may come. */
export function waitingWork(v: Verdict): Record<WorkKind, number> {
  return { answer: v.missing, revise: v.staleAnswers, reply: v.missedMentions };
}
