/**
 * The scheduler at scale: 200 repositories on the simulator. The daemon runs
 * as it ships (`node dist/cli/main.js run --once`, built first), so its memory
 * is its own: neither the simulator nor a TypeScript loader is counted.
 * Prints the setup phase duration with minInterval 0 (target under 3 s), one
 * full polling pass, and the daemon's resident memory after the pass (target
 * under 100 MB), as the daemon itself logs them.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';

const REPOSITORIES = 200;
const ISSUES_PER_REPOSITORY = 30;
const TOKEN = 'bench-token';
const root = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'autosolve-bench-scheduler-'));

execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });

const repositories = Array.from({ length: REPOSITORIES }, (_, r) => ({
  owner: 'bench',
  name: `repo-${r}`,
  issues: Array.from({ length: ISSUES_PER_REPOSITORY }, (_, i) => {
    const at = new Date(Date.UTC(2025, 0, 1) + i * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    return { title: `Issue ${i} of repo ${r}`, body: 'Something is broken.', labels: ['bug'], createdAt: at, updatedAt: at };
  }),
}));
const scenario = join(dir, 'scenario.yml');
writeFileSync(scenario, stringify({ tokens: [TOKEN], repositories }));

const simulator = spawn(
  process.execPath,
  ['--import', pathToFileURL(join(root, 'node_modules/tsx/dist/esm/index.mjs')).href, join(root, 'src/cli/main.ts'), 'simulator', '--port', '0', '--scenario', scenario, '--rate-limit', '100000'],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
try {
  const url = await new Promise<string>((resolveUrl, reject) => {
    let output = '';
    simulator.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const match = /http:\/\/127\.0\.0\.1:\d+/.exec(output);
      if (match) resolveUrl(match[0]);
    });
    simulator.on('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
  });

  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    stringify({
      database: { sqlitePath: join(dir, 'bench.db') },
      github: {
        token: TOKEN,
        baseUrl: url,
        repositories: repositories.map(({ owner, name }) => ({ owner, name })),
        rateLimit: { minInterval: '0s' },
        issues: { requiredLabel: 'nothing-is-dispatched' },
      },
      ai: { provider: 'demo' },
    }),
  );
  const started = Date.now();
  const output = execFileSync(process.execPath, [join(root, 'dist/cli/main.js'), 'run', '--once', '--config', config], { cwd: dir, encoding: 'utf8' });
  const finished = Date.now();
  const lines = output.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { msg: string; time: string; setupMs?: number; rssMb?: number });
  const setup = lines.find((l) => l.msg.startsWith('setup passed'));
  const done = lines.find((l) => l.msg === 'done');
  if (!setup?.setupMs || !done?.rssMb) throw new Error(`unexpected daemon output:\n${output}`);

  const setupSeconds = setup.setupMs / 1000;
  const passSeconds = (Date.parse(done.time) - Date.parse(setup.time)) / 1000;
  console.log(`repositories: ${REPOSITORIES}, ${ISSUES_PER_REPOSITORY} issues each, minInterval 0 (whole run ${(finished - started) / 1000} s)`);
  console.log(`setup phase        : ${setupSeconds.toFixed(2)} s (target < 3 s) ${setupSeconds < 3 ? 'OK' : 'ABOVE TARGET'}`);
  console.log(`full polling pass  : ${passSeconds.toFixed(2)} s (${REPOSITORIES * ISSUES_PER_REPOSITORY} issues stored)`);
  console.log(`resident memory    : ${done.rssMb} MB after the pass (target < 100 MB) ${done.rssMb < 100 ? 'OK' : 'ABOVE TARGET'}`);
} finally {
  simulator.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
