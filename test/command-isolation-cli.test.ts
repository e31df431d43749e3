/**
 * The command executor as the daemon runs it, end to end through the CLI and
 * the simulator: what the program can reach (environment, working folder, the
 * daemon's config.yml), what `ai.command.cwd` accepts, and that no secret the
 * program prints reaches GitHub.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Simulator } from '../src/simulator/index.js';
import { runCli, tempDir, writeFile } from './support/cli.js';
import { daemonConfig, inspectDatabase, simulator, TOKEN } from './support/daemon.js';

/** What the daemon's own environment holds besides the basics: none of it may reach the command. */
const DAEMON_SECRETS = {
  REDIS_URL: 'redis://default:cache-password-123@cache.internal:6379',
  SSH_AUTH_SOCK: '/run/user/1000/ssh-agent.socket',
  AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
  GOOGLE_APPLICATION_CREDENTIALS: '/etc/gcp/service-account.json',
  GITHUB_TOKEN: 'ghp_inheritedFromTheShell000000000000000',
  SOME_UNRELATED_SETTING: 'harmless but not asked for',
};

/** A command that reports what it can see to `report` and answers with a fixed line. */
function reportingCommand(dir: string) {
  const report = join(dir, 'seen.json');
  const script = writeFile(
    dir,
    'report.cjs',
    `const fs = require('fs');
const attempt = (file) => { try { return fs.readFileSync(file, 'utf8'); } catch (error) { return error.code; } };
fs.writeFileSync(${JSON.stringify(report)}, JSON.stringify({
  env: process.env,
  cwd: process.cwd(),
  config: attempt('config.yml'),
  parentConfig: attempt('../config.yml'),
}));
process.stdout.write('Looked around; nothing to report.');
`,
  );
  return { run: [process.execPath, script], seen: () => JSON.parse(readFileSync(report, 'utf8')) as { env: Record<string, string>; cwd: string; config: string; parentConfig: string } };
}

describe('the command executor under the daemon', () => {
  let dir: { path: string; cleanup: () => void };
  let sim: Simulator | undefined;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
    dir.cleanup();
  });

  it('gives the command neither the daemon\'s environment nor its working folder, so config.yml is out of reach', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Crash' }] }]);
    const command = reportingCommand(dir.path);
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: { issues: { backlog: 'answer' } }, ai: { provider: 'command', command: { run: command.run, passEnv: ['AGENT_API_KEY'] } } });
    const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path, env: { ...DAEMON_SECRETS, AGENT_API_KEY: 'agent-key-handed-on-purpose' } });
    assert.equal(result.code, 0, result.stdout + result.stderr);

    const seen = command.seen();
    for (const name of Object.keys(DAEMON_SECRETS)) assert.equal(seen.env[name], undefined, `${name} reached the command`);
    assert.equal(seen.env.AGENT_API_KEY, 'agent-key-handed-on-purpose');
    assert.equal(seen.env.AUTOSOLVE_REPOSITORY, 'acme/api');
    assert.ok(seen.env.PATH, 'PATH is handed on');
    const unexpected = Object.keys(seen.env).filter((name) => !/^(PATH|HOME|LANG|LC_[A-Z_]+|TZ|TMPDIR|AGENT_API_KEY|AUTOSOLVE_(REPOSITORY|ISSUE_NUMBER|ISSUE_TITLE|ISSUE_URL|ISSUE_LABELS|PROMPT))$/.test(name));
    assert.deepEqual(unexpected, [], 'only allow-listed variables reach the command');

    assert.notEqual(seen.cwd, dir.path, 'the command ran in the daemon\'s working folder');
    assert.equal(seen.config, 'ENOENT', 'the command read the daemon\'s config.yml');
    assert.ok(!seen.parentConfig.includes(TOKEN), 'the command read a config.yml with the token');
    assert.equal(existsSync(seen.cwd), false, 'the run\'s temporary folder was left behind');
    assert.equal(sim.comments('acme', 'api', 1).length, 1);
  });

  it('config check requires ai.command.cwd to be an existing folder, naming the key', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api' }]);
    const workspace = join(dir.path, 'workspace');
    mkdirSync(workspace);
    const file = writeFile(dir.path, 'not-a-folder.txt', 'x');
    const check = (cwd: string) => {
      const config = daemonConfig(dir.path, sim!, ['acme/api'], { ai: { provider: 'command', command: { run: ['true'], cwd } } });
      return runCli(['config', 'check', '--config', config.file], { cwd: dir.path });
    };

    const missing = await check(join(dir.path, 'no-such-folder'));
    assert.equal(missing.code, 2, missing.stdout + missing.stderr);
    assert.match(missing.stderr, /ai\.command\.cwd: .*no-such-folder.* does not exist/);
    const notFolder = await check(file);
    assert.equal(notFolder.code, 2, notFolder.stdout + notFolder.stderr);
    assert.match(notFolder.stderr, /ai\.command\.cwd: .*not-a-folder\.txt is not a folder/);
    const relative = await check('workspace');
    assert.equal(relative.code, 2, relative.stdout + relative.stderr);
    assert.match(relative.stderr, /ai\.command\.cwd: expected an absolute path/);

    const valid = await check(workspace);
    assert.equal(valid.code, 0, valid.stdout + valid.stderr);
    assert.match(valid.stdout, new RegExp(`cwd: ${workspace.replaceAll('/', '\\/')}`));
  });

  it('scrubs the token, API keys, passEnv values and GitHub-token-shaped strings from the comment and records it on the job', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Leak it' }] }]);
    const foundToken = `ghp_${'A1b2C3d4E5'.repeat(3)}f6G7h8`;
    const passed = 'agent-key-0123456789-handed-on';
    const script = writeFile(
      dir.path,
      'leak.cjs',
      `process.stdout.write([
  'The token is ${TOKEN}.',
  'I also found ${foundToken} in the history.',
  'And my key: ' + process.env.AGENT_API_KEY,
  'Fine: run \`git log\` and check the parser.',
].join('\\n'));
`,
    );
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: { issues: { backlog: 'answer' } }, ai: { provider: 'command', command: { run: [process.execPath, script], passEnv: ['AGENT_API_KEY'] } } });
    const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path, env: { AGENT_API_KEY: passed } });
    assert.equal(result.code, 0, result.stdout + result.stderr);

    const [comment] = sim.comments('acme', 'api', 1);
    assert.ok(comment, 'a comment was posted');
    for (const secret of [TOKEN, foundToken, passed]) {
      assert.ok(!comment.body.includes(secret), `the comment carries ${secret}`);
    }
    assert.equal(comment.body.match(/\[secret removed\]/g)?.length, 3, comment.body);
    assert.match(comment.body, /check the parser/, 'the rest of the answer is kept');

    const output = result.stdout + result.stderr;
    assert.match(output, /removed 3 secret-looking strings from the comment/);
    for (const secret of [TOKEN, foundToken, passed]) assert.ok(!output.includes(secret), `the log carries ${secret}`);

    const id = inspectDatabase(config.database, (db) => (db.prepare('SELECT id FROM jobs').get() as { id: number }).id);
    const shown = await runCli(['jobs', 'show', String(id), '--config', config.file], { cwd: dir.path });
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^ {2}scrubbed {4}3 secret-looking strings removed before posting$/m);
    const json = JSON.parse((await runCli(['jobs', 'show', String(id), '--json', '--config', config.file], { cwd: dir.path })).stdout) as { scrubbed: number };
    assert.equal(json.scrubbed, 3);
  });

  it('keeps secrets a failing command prints on stderr out of the log, the database and jobs show', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'Fail loudly' }] }]);
    const passed = 'agent-key-0123456789-handed-on';
    const script = writeFile(dir.path, 'fail.cjs', `process.stderr.write('auth with ' + process.env.AGENT_API_KEY + ' and ${TOKEN} failed\\n'); process.exit(1);\n`);
    const config = daemonConfig(dir.path, sim, ['acme/api'], { github: { issues: { backlog: 'answer' } }, ai: { provider: 'command', maxAttempts: 1, command: { run: [process.execPath, script], passEnv: ['AGENT_API_KEY'] } } });
    const result = await runCli(['run', '--once', '--config', config.file], { cwd: dir.path, env: { AGENT_API_KEY: passed } });
    const output = result.stdout + result.stderr;
    assert.match(output, /auth with \[secret removed\] and \[secret removed\] failed/);
    const shown = await runCli(['jobs', 'show', '1', '--config', config.file], { cwd: dir.path });
    assert.match(shown.stdout, /^ {2}state {7}dead$/m);
    assert.match(shown.stdout, /auth with \[secret removed\]/);
    const stored = inspectDatabase(config.database, (db) => JSON.stringify(db.prepare('SELECT * FROM jobs').all()));
    for (const secret of [TOKEN, passed]) {
      assert.ok(!output.includes(secret), `the log carries ${secret}`);
      assert.ok(!shown.stdout.includes(secret), `jobs show carries ${secret}`);
      assert.ok(!stored.includes(secret), `the database carries ${secret}`);
    }
  });
});
