/**
 * The kill campaign at length: the daemon killed with SIGKILL at random points
 * (poll, executor, react, post, complete, any time) while it answers issues,
 * revises answers after edits and replies to mentions, round after round, then
 * a clean run (the verdict) and a second one (it must write nothing). Prints
 * the figures next to their targets.
 *
 *   npm run bench:chaos -- [rounds=150] [seed=1]
 *
 * A round writes about 2.5 times on GitHub (answers, revisions, replies and
 * their eyes), and the daemon writes at most 450 times an hour on a
 * credential: past about 170 rounds in one campaign, rounds wait on that
 * budget and the final run waits for its window. For more kills, run more
 * seeds.
 */
import { compileCli } from '../test/support/cli.js';
import { runCampaign } from '../test/support/kill-campaign.js';

const rounds = Number(process.argv[2] ?? 150);
const seed = Number(process.argv[3] ?? 1);
const verbose = process.env.CHAOS_VERBOSE === '1';
const started = Date.now();

// Ctrl-C or a kill stops the campaign, and the abort kills every daemon it started.
const interrupted = new AbortController();
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => interrupted.abort());

const build = compileCli();
let result: Awaited<ReturnType<typeof runCampaign>>;
try {
  result = await runCampaign({ seed, rounds, main: build.main, signal: interrupted.signal, ...(verbose ? { log: (line: string) => console.log(`${((Date.now() - started) / 1000).toFixed(1)}s ${line}`) } : {}) });
} finally {
  build.cleanup();
}
const sorted = [...result.recoveryMs].sort((a, b) => a - b);
const quantile = (q: number) => (sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number));
const recoveryTargetMs = 10_000;

const rows: Array<[string, string, string, boolean]> = [
  ['rounds (kills)', String(result.rounds), '', true],
  ['kills by point', Object.entries(result.kills).map(([k, v]) => `${k} ${v}`).join(', '), '', true],
  ['kills during', Object.entries(result.killsDuring).map(([k, v]) => `${k} ${v}`).join(', '), '', true],
  ['changes between rounds', Object.entries(result.changes).map(([k, v]) => `${k} ${v}`).join(', '), '', true],
  ['eligible issues', String(result.eligible), '', true],
  ['duplicates (two answers)', String(result.duplicates), '0', result.duplicates === 0],
  ['missing after the final run', String(result.missing), '0', result.missing === 0],
  ['answers where none was asked', String(result.unwanted), '0', result.unwanted === 0],
  ['stale answers (an edit not reflected)', String(result.staleAnswers), '0', result.staleAnswers === 0],
  ['mentions that ask', String(result.asking), '', true],
  ['missed mentions', String(result.missedMentions), '0', result.missedMentions === 0],
  ['duplicate replies', String(result.duplicateReplies), '0', result.duplicateReplies === 0],
  ['replies where none was asked', String(result.unwantedReplies), '0', result.unwantedReplies === 0],
  ['replied mentions without eyes', String(result.unseenMentions), '0', result.unseenMentions === 0],
  ['GitHub writes (comments, edits, reactions)', String(result.writes), '≤ 450 (an hour on one credential)', result.writes <= 450],
  ['final run exit code', String(result.final.code), '0', result.final.code === 0],
  ['second clean run: exit code, writes', `${result.settled.code}, ${result.settledWrites}`, '0, 0', result.settled.code === 0 && result.settledWrites === 0],
  [
    "time to recover a dead owner's job (p50 / p95 / max)",
    sorted.length === 0 ? 'n/a' : `${quantile(0.5)} / ${quantile(0.95)} / ${sorted.at(-1)} ms (${sorted.length} jobs)`,
    `p95 ≤ ${recoveryTargetMs} ms`,
    sorted.length === 0 || quantile(0.95) <= recoveryTargetMs,
  ],
  ['campaign time', `${(result.elapsedMs / 1000).toFixed(1)} s`, '', true],
];
const width = Math.max(...rows.map(([name]) => name.length));
console.log(`autosolve kill campaign, seed ${seed}`);
for (const finding of result.findings) console.log(`  ! ${finding}`);
for (const [name, value, target, ok] of rows) console.log(`  ${name.padEnd(width)}  ${value}${target ? `   target ${target}${ok ? '' : '   MISSED'}` : ''}`);
const missed = rows.filter(([, , , ok]) => !ok);
if (missed.length > 0) {
  console.log(`\n${missed.length} target(s) missed.`);
  if (result.final.code !== 0) console.log(result.final.stderr.slice(-3_000));
  if (result.settled.code !== 0) console.log(result.settled.stderr.slice(-3_000));
  process.exitCode = 1;
}
