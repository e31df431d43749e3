import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir, writeFile } from './support/cli.js';

const TOKEN_ENV = { GITHUB_TOKEN: 'ghp_shapesTestToken0123456789' };

describe('configuration shapes people write', () => {
  let dir: { path: string; cleanup: () => void };
  before(() => {
    dir = tempDir();
  });
  after(() => dir.cleanup());

  it('accepts repositories written owner/name next to { owner, name }, and names the index of a bad one', async () => {
    const good = writeFile(dir.path, 'mixed.yml', 'github:\n  repositories:\n    - acme/api\n    - owner: acme\n      name: web\n    - " acme/docs "\n');
    const ok = await runCli(['config', 'check', '--config', good], { cwd: dir.path, env: TOKEN_ENV });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /- owner: acme\n\s+name: api\n\s+- owner: acme\n\s+name: web\n\s+- owner: acme\n\s+name: docs\n/);

    const bad = writeFile(dir.path, 'bad-repo.yml', 'github:\n  repositories:\n    - acme/api\n    - acme\n    - acme/api/extra\n    - ghp_pastedHereByMistake012345\n');
    const result = await runCli(['config', 'check', '--config', bad], { cwd: dir.path, env: TOKEN_ENV });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /github\.repositories\[1\]: expected owner\/name \(e\.g\. acme\/api\) or \{ owner, name \}, got "acme"/);
    assert.match(result.stderr, /github\.repositories\[2\]: expected owner\/name .*got "acme\/api\/extra"/);
    assert.doesNotMatch(result.stderr, /github\.repositories\[0\]/);
    assert.match(result.stderr, /github\.repositories\[3\]: expected owner\/name .*got "ghp_\*\*\*"/, 'a token pasted here is not echoed');
    assert.ok(!result.stderr.includes('pastedHereByMistake'));
  });

  it('treats a section whose keys are all commented out as empty', async () => {
    const file = writeFile(
      dir.path,
      'commented.yml',
      'log:\n  # debug: true\ndatabase:\ngithub:\n  repositories: [acme/api]\n  rateLimit:\n    # minInterval: 2s\nai:\n  # provider: openai\n  command:\n    # run: [./x]\nhttp:\n  # listen: 127.0.0.1:9464\n',
    );
    const result = await runCli(['config', 'check', '--config', file], { cwd: dir.path, env: TOKEN_ENV });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /pointsPerMinute: 600/, 'defaults apply to the empty section');
    assert.match(result.stdout, /provider: ollama/);
  });

  it('accepts durations in days (7d) and prints them back in days', async () => {
    const file = writeFile(dir.path, 'days.yml', 'github:\n  repositories: [acme/api]\n  issues:\n    parseInterval: 1d12h\nai:\n  retryDelay: 7d\n');
    const result = await runCli(['config', 'check', '--config', file], { cwd: dir.path, env: TOKEN_ENV });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /parseInterval: 1d12h/);
    assert.match(result.stdout, /retryDelay: 7d/);
  });

  it('merges repositories that differ only in letter case, with a warning naming both', async () => {
    const file = writeFile(dir.path, 'cases.yml', 'github:\n  repositories:\n    - acme/api\n    - acme/web\n    - Acme/API\n    - acme/web\n');
    const result = await runCli(['config', 'check', '--config', file], { cwd: dir.path, env: TOKEN_ENV });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /warning: github\.repositories\[2\]: Acme\/API and github\.repositories\[0\]: acme\/api are the same repository \(GitHub names ignore letter case\); watched once, as acme\/api/);
    assert.match(result.stderr, /warning: github\.repositories\[3\]: acme\/web is listed twice/);
    const listed = result.stdout.match(/- owner: /g) ?? [];
    assert.equal(listed.length, 2, result.stdout);
    assert.doesNotMatch(result.stdout, /owner: Acme/);
  });

  it('resolves a relative sqlitePath against the config file folder, and one from the environment against the working directory', async () => {
    const home = join(dir.path, 'etc-autosolve');
    const elsewhere = join(dir.path, 'elsewhere');
    mkdirSync(home);
    mkdirSync(elsewhere);
    const file = writeFile(home, 'config.yml', 'database:\n  sqlitePath: data/autosolve.db\n');
    const fromFile = await runCli(['migrate', 'up', '--config', file], { cwd: elsewhere });
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.ok(existsSync(join(home, 'data/autosolve.db')), 'next to the config file');
    assert.ok(!existsSync(join(elsewhere, 'data')), 'not in the working directory');

    const fromEnv = await runCli(['migrate', 'up', '--config', file], { cwd: elsewhere, env: { AUTOSOLVE_DATABASE_SQLITEPATH: 'env.db' } });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.ok(existsSync(join(elsewhere, 'env.db')), 'a path from the environment means the working directory');
    assert.ok(!existsSync(join(home, 'env.db')));
  });

  it('explains the common mistakes: repositories as one string or one mapping, the token or a key in the wrong section', async () => {
    const file = writeFile(
      dir.path,
      'mistakes.yml',
      'token: ghp_misplacedToken0123456789\ngithub:\n  repositories: acme/api, acme/web\n  requiredLabel: autosolve\nai:\n  github_token: x\n',
    );
    const result = await runCli(['config', 'check', '--config', file], { cwd: dir.path });
    assert.equal(result.code, 2);
    const err = result.stderr;
    assert.match(err, /github\.repositories: expected a list, got the text "acme\/api, acme\/web"; write one repository per line:\n\s+repositories:\n\s+- acme\/api\n\s+- acme\/web/);
    assert.match(err, /- token: unknown key \(the GitHub token goes in github\.token, or set the GITHUB_TOKEN environment variable\)/);
    assert.match(err, /ai\.github_token: unknown key \(the GitHub token goes in github\.token/);
    assert.match(err, /github\.requiredLabel: unknown key \(did you mean github\.issues\.requiredLabel\?\)/);
    assert.ok(!err.includes('ghp_misplacedToken'), 'token printed');

    const placeholder = await runCli(['config', 'check', '--config', writeFile(dir.path, 'ok.yml', 'github:\n  repositories: [acme/api]\n')], {
      cwd: dir.path,
      env: { GITHUB_TOKEN: 'ghp_...' },
    });
    assert.equal(placeholder.code, 2);
    assert.match(placeholder.stderr, /github\.token: still the placeholder from the example \("ghp_\.\.\."\); set a real token/);

    const mapping = writeFile(dir.path, 'mapping.yml', 'github:\n  repositories:\n    owner: acme\n    name: api\n');
    const single = await runCli(['config', 'check', '--config', mapping], { cwd: dir.path, env: TOKEN_ENV });
    assert.equal(single.code, 2);
    assert.match(single.stderr, /github\.repositories: expected a list, got a single mapping; put "- " before owner/);
  });

  it('reads log.level and LOG_LEVEL (debug, info, warn, error); debug: true still means debug', async () => {
    const levels = async (yaml: string, env: Record<string, string> = {}) => {
      const file = writeFile(dir.path, 'levels.yml', `${yaml}github:\n  repositories: [acme/api]\n`);
      return runCli(['config', 'check', '--config', file], { cwd: dir.path, env: { ...TOKEN_ENV, ...env } });
    };
    const byDefault = await levels('');
    assert.match(byDefault.stdout, /level: info/);
    const debugKey = await levels('log:\n  debug: true\n');
    assert.match(debugKey.stdout, /level: debug/);
    const fromFile = await levels('log:\n  level: WARN\n');
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.match(fromFile.stdout, /level: warn/);
    const fromEnv = await levels('log:\n  level: warn\n', { LOG_LEVEL: 'error' });
    assert.match(fromEnv.stdout, /level: error/, 'LOG_LEVEL overrides the file');
    const prefixed = await levels('', { LOG_LEVEL: 'error', AUTOSOLVE_LOG_LEVEL: 'debug' });
    assert.match(prefixed.stdout, /level: debug/, 'AUTOSOLVE_LOG_LEVEL overrides LOG_LEVEL');
    const wrong = await levels('', { LOG_LEVEL: 'verbose' });
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /LOG_LEVEL: expected trace, debug, info, warn, error, fatal, silent, got "verbose"/);
  });
});
