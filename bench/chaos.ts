/**
 * The kill campaign at length: the daemon killed with SIGKILL at random points
 * (poll, executor, post, complete, any time), round after round, then one
 * clean run. Prints the figures next to their targets.
 *
 *   npm run bench:chaos -- [rounds=200] [seed=1]
 */
import { compileCli } from '../test/support/cli.js';
import { runCampaign } from '../test/support/kill-campaign.js';

const rounds = Number(process.argv[2] ?? 200);
const seed = Number(process.argv[3] ?? 1);
const verbose = process.env.CHAOS_VERBOSE === '1';
const started = Date.now();

const build = compileCli();
const result = await runCampaign({ seed, rounds, main: build.main, ...(verbose ? { log: (line: string) => console.log(`${((Date.now() - started) / 1000).toFixed(1)}s ${line}`) } : {}) });
build.cleanup();
const sorted = [...result.recoveryMs].sort((a, b) => a - b);
const quantile = (q: number) => (sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number));
const recoveryTargetMs = 10_000;

const rows: Array<[string, string, string, boolean]> = [
  ['rounds (kills)', String(result.rounds), '', true],
  ['kills by point', Object.entries(result.kills).map(([k, v]) => `${k} ${v}`).join(', '), '', true],
  ['eligible issues', String(result.eligible), '', true],
  ['duplicates (two answers)', String(result.duplicates), '0', result.duplicates === 0],
  ['missing after the final run', String(result.missing), '0', result.missing === 0],
  ['answers where none was asked', String(result.unwanted), '0', result.unwanted === 0],
  ['final run exit code', String(result.final.code), '0', result.final.code === 0],
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
for (const [name, value, target, ok] of rows) console.log(`  ${name.padEnd(width)}  ${value}${target ? `   target ${target}${ok ? '' : '   MISSED'}` : ''}`);
const missed = rows.filter(([, , , ok]) => !ok);
if (missed.length > 0) {
  console.log(`\n${missed.length} target(s) missed.`);
  if (result.final.code !== 0) console.log(result.final.stderr.slice(-3_000));
  process.exitCode = 1;
}
