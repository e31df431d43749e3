/**
 * The command executor with real child processes: small Node scripts written
 * to a temporary directory and run with this very Node binary.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';

import { describeError, failureKindOf, isAbort } from '../src/domain/failure.js';
import type { ExecutorInput } from '../src/domain/ports.js';
import { CommandExecutor, createExecutor } from '../src/infra/ai/index.js';
import type { CommandExecutorOptions } from '../src/infra/ai/index.js';
import { assertCutShort } from './support/timing.js';

const SCRIPTS: Record<string, string> = {
  // Echoes what it received: stdin JSON, the AUTOSOLVE_* and test variables.
  'echo.mjs': `
    let input = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk) => (input += chunk));
    process.stdin.on('end', () => {
      const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'PATH'));
      process.stdout.write(JSON.stringify({ stdin: JSON.parse(input), env, argv: process.argv.slice(2) }));
    });`,
  'fail.mjs': `
    process.stderr.write('first-line-of-stderr\\n');
    for (let i = 0; i < 60; i++) process.stderr.write('noise ' + 'x'.repeat(100) + '\\n');
    process.stderr.write('last words: disk full\\n');
    process.exitCode = 3;`,
  'leaky.mjs': `
    process.stderr.write('using key ' + process.env.AGENT_API_KEY + '\\n');
    process.stderr.write('found ghp_' + 'Q'.repeat(36) + ' in ~/.config\\n');
    process.exitCode = 1;`,
  'silent.mjs': `process.stdout.write('  \\n'); process.stderr.write('nothing to say\\n');`,
  'flood.mjs': `process.stdout.write('y'.repeat(5000)); setInterval(() => {}, 1000);`,
  // Starts a grandchild that holds our stdout, records both pids, then hangs.
  // With "stubborn", both ignore SIGTERM so only SIGKILL ends them.
  'hang.mjs': `
    import { spawn } from 'node:child_process';
    import { writeFileSync } from 'node:fs';
    const [pidFile, mode] = process.argv.slice(2);
    const trap = mode === 'stubborn' ? "process.on('SIGTERM', () => {});" : '';
    if (trap) process.on('SIGTERM', () => {});
    writeFileSync(pidFile + '.cwd', process.cwd());
    writeFileSync('left-behind.txt', 'scratch');
    const grandchild = spawn(process.execPath, ['-e', trap + 'setInterval(() => {}, 1000)'], { stdio: 'inherit' });
    grandchild.on('spawn', () => writeFileSync(pidFile, process.pid + ' ' + grandchild.pid));
    setInterval(() => {}, 1000);`,
  // Where it runs, what it finds there, whether the daemon's config is in reach; leaves a file behind.
  'where.mjs': `
    import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
    const attempt = (file) => { try { return readFileSync(file, 'utf8'); } catch (error) { return error.code; } };
    const seen = { cwd: process.cwd(), entries: readdirSync('.'), config: attempt('config.yml'), parentConfig: attempt('../config.yml') };
    writeFileSync('scratch.txt', 'work in progress');
    process.stdout.write(JSON.stringify(seen));`,
  // Leaves a grandchild behind (holding no pipes), answers and exits.
  'orphan.mjs': `
    import { spawn } from 'node:child_process';
    import { writeFileSync } from 'node:fs';
    const grandchild = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    grandchild.on('spawn', () => {
      writeFileSync(process.argv[2], String(grandchild.pid));
      process.stdout.write('done');
      process.exit(0);
    });`,
};

let dir = '';
const startedPids: number[] = [];

before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'autosolve-command-'));
  for (const [name, source] of Object.entries(SCRIPTS)) writeFileSync(path.join(dir, name), source);
});

afterEach(() => {
  // A failed test must not leave processes behind.
  for (const pid of startedPids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

after(() => rmSync(dir, { recursive: true, force: true }));

const INPUT: ExecutorInput = {
  repository: 'acme/api',
  number: 7,
  title: 'A title',
  body: 'Body text',
  labels: ['bug', 'help wanted'],
  url: 'https://github.com/acme/api/issues/7',
  prompt: 'the rendered prompt',
};

function script(name: string, ...args: string[]): string[] {
  return [process.execPath, path.join(dir, name), ...args];
}

function executor(run: string[], options: Partial<CommandExecutorOptions> = {}): CommandExecutor {
  return new CommandExecutor({ run, timeoutMs: 10_000, parentEnv: { PATH: process.env.PATH }, ...options });
}

async function failureOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof Error);
    return error;
  }
  assert.fail('expected the run to fail');
}

/** Dead includes an unreaped zombie: it runs nothing any more. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function waitFor(what: string, condition: () => boolean, deadlineMs = 5000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function readPids(file: string): number[] {
  const pids = readFileSync(file, 'utf8').trim().split(' ').map(Number);
  startedPids.push(...pids);
  return pids;
}

void describe('command executor', () => {
  void it('passes hostile issue text through stdin and env intact, executing none of it', async (t) => {
    const pwned = path.join(tmpdir(), `pwned-${randomUUID()}`);
    t.after(() => rmSync(pwned, { force: true }));
    const title = `$(touch ${pwned}) \`touch ${pwned}\` ; rm -rf ${pwned}; echo "dq" 'sq' | tee ${pwned} && $HOME > ${pwned} \\ %s`;
    const input = { ...INPUT, title, body: `body $(touch ${pwned})` };
    // argv is spawned without a shell too: an argument is one literal string.
    const argument = `$(touch ${pwned}) ; touch ${pwned}`;
    const output = await executor(script('echo.mjs', argument)).run(input, new AbortController().signal);
    const seen = JSON.parse(output.text) as { stdin: Record<string, unknown>; env: Record<string, string>; argv: string[] };
    assert.deepEqual(seen.argv, [argument]);
    assert.deepEqual(seen.stdin, { ...input });
    assert.equal(seen.env.AUTOSOLVE_ISSUE_TITLE, title);
    assert.equal(seen.env.AUTOSOLVE_REPOSITORY, 'acme/api');
    assert.equal(seen.env.AUTOSOLVE_ISSUE_NUMBER, '7');
    assert.equal(seen.env.AUTOSOLVE_ISSUE_URL, INPUT.url);
    assert.equal(seen.env.AUTOSOLVE_ISSUE_LABELS, 'bug,help wanted');
    assert.equal(seen.env.AUTOSOLVE_PROMPT, 'the rendered prompt');
    assert.equal(output.model, path.basename(process.execPath));

    // Even a shell the user runs on purpose only expands the variable, never its contents.
    const viaShell = await executor(['/bin/sh', '-c', 'printf "%s" "$AUTOSOLVE_ISSUE_TITLE"']).run(input, new AbortController().signal);
    assert.equal(viaShell.text, title);
    assert.equal(existsSync(pwned), false, 'a command in the title was executed');
  });

  void it('hands the command only the allow-listed environment and the passEnv names', async () => {
    const parentEnv = {
      PATH: process.env.PATH,
      HOME: '/home/agent',
      LANG: 'en_GB.UTF-8',
      LC_ALL: 'C.UTF-8',
      LC_TIME: 'de_DE.UTF-8',
      TZ: 'Europe/Berlin',
      TMPDIR: tmpdir(),
      DATABASE_URL: 'postgres://app:pw@db/app',
      SSH_AUTH_SOCK: '/run/user/1000/ssh-agent.sock',
      AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'aws-secret',
      AWS_PROFILE: 'prod',
      GOOGLE_APPLICATION_CREDENTIALS: '/etc/gcp.json',
      AZURE_CLIENT_SECRET: 'azure-secret',
      GITHUB_TOKEN: 'ghp_secret',
      AUTOSOLVE_GITHUB_TOKEN: 'ghp_daemon_token',
      OPENAI_API_KEY: 'sk-secret',
      HARMLESS: 'not on the list either',
      ANTHROPIC_API_KEY: 'allowed-on-purpose',
      AGENT_MODE: 'fast',
    };
    const run = executor(script('echo.mjs'), { parentEnv, allowEnv: ['ANTHROPIC_API_KEY', 'AGENT_MODE', 'NOT_SET_ANYWHERE'] });
    const { env } = JSON.parse((await run.run(INPUT, new AbortController().signal)).text) as { env: Record<string, string> };
    const issueVariables = ['AUTOSOLVE_REPOSITORY', 'AUTOSOLVE_ISSUE_NUMBER', 'AUTOSOLVE_ISSUE_TITLE', 'AUTOSOLVE_ISSUE_URL', 'AUTOSOLVE_ISSUE_LABELS', 'AUTOSOLVE_PROMPT'];
    // echo.mjs leaves PATH out of what it prints.
    assert.deepEqual(
      Object.keys(env).sort(),
      ['HOME', 'LANG', 'LC_ALL', 'LC_TIME', 'TZ', 'TMPDIR', 'ANTHROPIC_API_KEY', 'AGENT_MODE', ...issueVariables].sort(),
    );
    assert.equal(env.HOME, '/home/agent');
    assert.equal(env.ANTHROPIC_API_KEY, 'allowed-on-purpose');
    assert.equal(env.AGENT_MODE, 'fast');
  });

  void it('runs each command in a fresh, empty temporary folder that is removed afterwards', async () => {
    const run = executor(script('where.mjs'));
    const first = JSON.parse((await run.run(INPUT, new AbortController().signal)).text) as { cwd: string; entries: string[]; config: string };
    const second = JSON.parse((await run.run(INPUT, new AbortController().signal)).text) as { cwd: string; entries: string[] };
    assert.notEqual(first.cwd, process.cwd(), 'the command ran in the daemon\'s working directory');
    assert.notEqual(first.cwd, second.cwd, 'two runs shared a folder');
    assert.deepEqual(first.entries, []);
    assert.deepEqual(second.entries, [], 'the second run saw what the first left');
    assert.equal(first.config, 'ENOENT');
    assert.equal(existsSync(first.cwd), false, 'the first folder was left behind');
    assert.equal(existsSync(second.cwd), false, 'the second folder was left behind');
  });

  void it('removes the temporary folder of a command killed at the timeout', async () => {
    const pidFile = path.join(dir, `pids-${randomUUID()}`);
    const error = await failureOf(executor(script('hang.mjs', pidFile), { timeoutMs: 3000, killGraceMs: 300 }).run(INPUT, new AbortController().signal));
    readPids(pidFile);
    assert.match(error.message, /did not finish within/);
    const cwd = readFileSync(`${pidFile}.cwd`, 'utf8');
    assert.notEqual(cwd, process.cwd());
    assert.equal(existsSync(cwd), false, `${cwd} was left behind`);
  });

  void it('removes the temporary folder of a command aborted by shutdown', async () => {
    const pidFile = path.join(dir, `pids-${randomUUID()}`);
    const controller = new AbortController();
    const timeoutMs = 60_000;
    const run = failureOf(executor(script('hang.mjs', pidFile), { timeoutMs }).run(INPUT, controller.signal));
    await waitFor('the command to start its grandchild', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').includes(' '));
    controller.abort();
    const error = await run;
    readPids(pidFile);
    assert.equal(error.name, 'AbortError');
    const cwd = readFileSync(`${pidFile}.cwd`, 'utf8');
    assert.equal(existsSync(cwd), false, `${cwd} was left behind`);
  });

  void it('runs in ai.command.cwd when it is set, and leaves that folder alone', async (t) => {
    const workspace = mkdtempSync(path.join(tmpdir(), 'autosolve-workspace-'));
    t.after(() => rmSync(workspace, { recursive: true, force: true }));
    writeFileSync(path.join(workspace, 'README.md'), 'the agent\'s checkout');
    const seen = JSON.parse((await executor(script('where.mjs'), { cwd: workspace }).run(INPUT, new AbortController().signal)).text) as { cwd: string; entries: string[] };
    assert.equal(seen.cwd, realpathSync(workspace));
    assert.deepEqual(seen.entries, ['README.md']);
    assert.deepEqual(readdirSync(workspace).sort(), ['README.md', 'scratch.txt']);
  });

  void it('finds a program given by a relative path from the daemon\'s folder, as before, although it runs elsewhere', async (t) => {
    const program = path.join(dir, `relative-${randomUUID()}.sh`);
    writeFileSync(program, '#!/bin/sh\nprintf "ran in %s" "$PWD"\n', { mode: 0o755 });
    t.after(() => rmSync(program, { force: true }));
    // Run deeper than the daemon's folder, so the relative path would lead nowhere from there.
    const deep = path.join(dir, 'a', 'b', 'c', 'd');
    mkdirSync(deep, { recursive: true });
    const relative = `./${path.relative(process.cwd(), program)}`;
    const output = await executor([relative], { cwd: deep }).run(INPUT, new AbortController().signal);
    assert.equal(output.text, `ran in ${deep}`);
  });

  void it('fails permanently, naming ai.command.cwd, when that folder has gone', async () => {
    const gone = path.join(tmpdir(), `autosolve-gone-${randomUUID()}`);
    const error = await failureOf(executor(script('where.mjs'), { cwd: gone }).run(INPUT, new AbortController().signal));
    assert.equal(failureKindOf(error), 'permanent');
    assert.match(describeError(error), /ai\.command\.cwd/);
    assert.ok(describeError(error).includes(gone));
  });

  void it('fails permanently on a non-zero exit, with the exit code and the stderr tail', async () => {
    const lines: string[] = [];
    const error = await failureOf(executor(script('fail.mjs'), { onStderr: (line) => lines.push(line) }).run(INPUT, new AbortController().signal));
    assert.equal(failureKindOf(error), 'permanent');
    assert.match(error.message, /command node exited with code 3/);
    assert.match(error.message, /last words: disk full/);
    assert.doesNotMatch(error.message, /first-line-of-stderr/, 'only the tail is kept');
    assert.ok(error.message.length < 2600);
    assert.equal(lines[0], 'first-line-of-stderr');
    assert.equal(lines.at(-1), 'last words: disk full');
    assert.equal(lines.length, 62);
  });

  void it('scrubs known secrets and GitHub tokens from stderr lines and the error message', async () => {
    const lines: string[] = [];
    const key = 'agent-key-0123456789';
    const run = executor(script('leaky.mjs'), { parentEnv: { PATH: process.env.PATH, AGENT_API_KEY: key }, allowEnv: ['AGENT_API_KEY'], secrets: [key], onStderr: (line) => lines.push(line) });
    const error = await failureOf(run.run(INPUT, new AbortController().signal));
    assert.match(error.message, /exited with code 1/);
    for (const text of [error.message, ...lines]) {
      assert.ok(!text.includes(key), `the key leaked: ${text}`);
      assert.ok(!text.includes('ghp_QQQQ'), `a token leaked: ${text}`);
    }
    assert.deepEqual(lines, ['using key [secret removed]', 'found [secret removed] in ~/.config']);
  });

  void it('fails permanently when the command prints nothing', async () => {
    const error = await failureOf(executor(script('silent.mjs')).run(INPUT, new AbortController().signal));
    assert.equal(failureKindOf(error), 'permanent');
    assert.match(error.message, /produced no output; stderr: nothing to say/);
  });

  void it('fails permanently, naming the program, when it does not exist', async () => {
    const error = await failureOf(executor(['/nonexistent/autosolve-agent', '--x']).run(INPUT, new AbortController().signal));
    assert.equal(failureKindOf(error), 'permanent');
    assert.match(describeError(error), /program not found: \/nonexistent\/autosolve-agent/);
  });

  void it('kills a command that floods stdout past the cap', async () => {
    const error = await failureOf(executor(script('flood.mjs'), { maxOutputBytes: 1000 }).run(INPUT, new AbortController().signal));
    assert.equal(failureKindOf(error), 'permanent');
    assert.match(error.message, /more than 1000 bytes/);
  });

  void it('kills the whole process group at the timeout, grandchildren included', async () => {
    const pidFile = path.join(dir, `pids-${randomUUID()}`);
    // hang.mjs never ends by itself: the run settling at all is the timeout's doing, and the message says which.
    const error = await failureOf(executor(script('hang.mjs', pidFile), { timeoutMs: 2500 }).run(INPUT, new AbortController().signal));
    const [child, grandchild] = readPids(pidFile);
    assert.equal(failureKindOf(error), 'permanent', describeError(error));
    assert.match(error.message, /did not finish within 2\.5s/);
    await waitFor('the child to die', () => !isAlive(child!));
    await waitFor('the grandchild to die', () => !isAlive(grandchild!));
  });

  void it('escalates to SIGKILL when the group ignores SIGTERM', async () => {
    const pidFile = path.join(dir, `pids-${randomUUID()}`);
    const run = executor(script('hang.mjs', pidFile, 'stubborn'), { timeoutMs: 2500, killGraceMs: 300 });
    const error = await failureOf(run.run(INPUT, new AbortController().signal));
    const [child, grandchild] = readPids(pidFile);
    assert.match(error.message, /did not finish within/);
    await waitFor('the child to die', () => !isAlive(child!));
    await waitFor('the grandchild to die', () => !isAlive(grandchild!));
  });

  void it('kills the group and surfaces an AbortError when the caller aborts', async () => {
    const pidFile = path.join(dir, `pids-${randomUUID()}`);
    const controller = new AbortController();
    const timeoutMs = 60_000;
    const run = failureOf(executor(script('hang.mjs', pidFile), { timeoutMs }).run(INPUT, controller.signal));
    await waitFor('the command to start its grandchild', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').includes(' '));
    const abortedAt = Date.now();
    controller.abort();
    const error = await run;
    const [child, grandchild] = readPids(pidFile);
    assert.equal(error.name, 'AbortError');
    assert.ok(isAbort(error));
    assert.equal(failureKindOf(error), 'unknown', 'an abort spends no attempt');
    assertCutShort(Date.now() - abortedAt, timeoutMs, 'the abort, not the timeout, ended the run');
    await waitFor('the child to die', () => !isAlive(child!));
    await waitFor('the grandchild to die', () => !isAlive(grandchild!));
  });

  void it('cleans up what a finished command left running', async () => {
    const pidFile = path.join(dir, `pid-${randomUUID()}`);
    const output = await executor(script('orphan.mjs', pidFile)).run(INPUT, new AbortController().signal);
    const [grandchild] = readPids(pidFile);
    assert.equal(output.text, 'done');
    await waitFor('the orphaned grandchild to die', () => !isAlive(grandchild!));
  });

  void it('passes stderr lines to the hook given to createExecutor', async () => {
    const lines: string[] = [];
    const command = createExecutor({ provider: 'command', run: script('silent.mjs'), timeoutMs: 10_000, parentEnv: { PATH: process.env.PATH } }, { onStderr: (line) => lines.push(line) });
    await failureOf(command.run(INPUT, new AbortController().signal));
    assert.deepEqual(lines, ['nothing to say']);
  });
});
