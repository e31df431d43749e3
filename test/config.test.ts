import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir, writeFile } from './support/cli.js';

const GO_CONFIG = `# a config written for the Go autosolve
log:
  debug: false
  source: true
  terminal: false
database:
  sqlitePath: ./autosolve.sqlite
github:
  token: ghp_goConfigToken0123456789
  repositories:
    - owner: thumbrise
      name: autosolve
    - owner: thumbrise
      name: otelext
  httpClientTimeout: 30s
  rateLimit:
    minInterval: 750ms
  issues:
    parseInterval: 1m30s
    requiredLabel: autosolve
ollama:
  endpoint: http://localhost:11434
  model: qwen2.5-coder:7b
otel:
  serviceName: autosolve
  exporter:
    endpoint: localhost:4317
`;

describe('configuration', () => {
  let dir: { path: string; cleanup: () => void };
  before(() => {
    dir = tempDir();
  });
  after(() => dir.cleanup());

  it('loads a Go autosolve config unchanged and masks the token', async () => {
    const file = writeFile(dir.path, 'go.yml', GO_CONFIG);
    const result = await runCli(['config', 'check', '--config', file], { cwd: dir.path });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /parseInterval: 1m30s/);
    assert.match(result.stdout, /minInterval: 750ms/);
    assert.match(result.stdout, /requiredLabel: autosolve/);
    assert.match(result.stdout, /model: qwen2.5-coder:7b/);
    assert.ok(!result.stdout.includes('ghp_goConfigToken0123456789'), 'token printed');
    assert.match(result.stdout, /token: "\*\*\* \(set/);
  });

  it('reports every problem at once, each with its key path, with did-you-mean hints and exit 2', async () => {
    const file = writeFile(
      dir.path,
      'bad.yml',
      `github:
  token: abc
  repositories:
    - owner: acme
      nme: api
  issues:
    parseIntervall: 5s
  rateLimit:
    minInterval: fast
  httpClientTimeout: 10
ai:
  provider: claude
  maxAttempts: -1
databse:
  sqlitePath: x.db
`,
    );
    const result = await runCli(['config', 'check', '--config', file], { cwd: dir.path });
    assert.equal(result.code, 2);
    const err = result.stderr;
    assert.match(err, /github\.repositories\[0\]\.nme: unknown key \(did you mean "name"\?\)/);
    assert.match(err, /github\.repositories\[0\]\.name: required/);
    assert.match(err, /github\.issues\.parseIntervall: unknown key \(did you mean "parseInterval"\?\)/);
    assert.match(err, /github\.rateLimit\.minInterval: expected a duration like 250ms, 5s, 1m30s or 2h, got "fast"/);
    assert.match(err, /github\.httpClientTimeout: expected a duration/);
    assert.match(err, /ai\.provider: /);
    assert.match(err, /ai\.maxAttempts: /);
    assert.match(err, /databse: unknown key \(did you mean "database"\?\)/);
    assert.doesNotMatch(err, /\n\s+at /, 'no stack trace');
  });

  it('exits 2 naming a missing config file, and nothing else', async () => {
    const missing = await runCli(['config', 'check', '--config', 'nope.yml'], { cwd: dir.path });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nope\.yml: file not found/);
    assert.doesNotMatch(missing.stderr, /github\.token|github\.repositories/, 'no follow-on errors');
  });

  it('shows a YAML syntax error with its line and column, masks the token on that line, and reports nothing after it', async () => {
    const broken = writeFile(dir.path, 'broken.yml', 'log:\n  debug: false\ngithub:\n  token: ghp_secretInTheBrokenLine: oops\n  repositories: [acme/api]\n');
    const syntax = await runCli(['config', 'check', '--config', broken], { cwd: dir.path });
    assert.equal(syntax.code, 2);
    assert.match(syntax.stderr, /broken\.yml:4:\d+: YAML syntax error: /);
    assert.match(syntax.stderr, /^\s+4 \|\s+token: \*\*\*$/m, 'the offending line is shown, its secret masked');
    assert.ok(!syntax.stderr.includes('ghp_secretInTheBrokenLine'), 'token printed');
    assert.doesNotMatch(syntax.stderr, /github\.token: required|github\.repositories: list/, 'no follow-on schema errors');
    assert.equal(syntax.stderr.match(/YAML syntax error/g)?.length, 1, 'one YAML error, not its echoes');

    const indented = writeFile(dir.path, 'indent.yml', 'github:\n  token: abc\n   baseUrl: https://ghe.example\n');
    const bad = await runCli(['config', 'check', '--config', indented], { cwd: dir.path });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /indent\.yml:2:\d+: YAML syntax error: /);
    assert.match(bad.stderr, /^\s+3 \|\s+baseUrl: https:\/\/ghe\.example$/m, 'the line after, where the bad indent is, is shown too');
    assert.doesNotMatch(bad.stderr, /github\.repositories: list/);
  });

  it('accepts ai.visibilityTimeout shorter than ai.timeout: it is the lease, renewed while the worker lives', async () => {
    const file = writeFile(dir.path, 'visibility.yml', `${GO_CONFIG}ai:\n  timeout: 5m\n  visibilityTimeout: 2s\n`);
    const result = await runCli(['config', 'check', '--config', file], { cwd: dir.path });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /visibilityTimeout: 2s/);
    const defaulted = await runCli(['config', 'check', '--config', writeFile(dir.path, 'lease-default.yml', GO_CONFIG)], { cwd: dir.path });
    assert.match(defaulted.stdout, /visibilityTimeout: 30s/);
  });

  it('requires a token and a repository for running', async () => {
    const empty = tempDir();
    try {
      const result = await runCli(['config', 'check'], { cwd: empty.path });
      assert.equal(result.code, 2);
      assert.match(result.stderr, /github\.token: required/);
      assert.match(result.stderr, /github\.repositories: list at least one repository/);
    } finally {
      empty.cleanup();
    }
  });

  it('lets AUTOSOLVE_* variables override every key, and GITHUB_TOKEN supply the token', async () => {
    const file = writeFile(dir.path, 'config.yml', GO_CONFIG);
    const result = await runCli(['config', 'check'], {
      cwd: dir.path,
      env: {
        AUTOSOLVE_DATABASE_SQLITEPATH: '/tmp/elsewhere.db',
        AUTOSOLVE_GITHUB_ISSUES_PARSEINTERVAL: '2h',
        AUTOSOLVE_LOG_DEBUG: 'true',
        AUTOSOLVE_GITHUB_REPOSITORIES: 'acme/api,acme/web',
        AUTOSOLVE_AI_MAXATTEMPTS: '7',
      },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`valid \\(${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\)`));
    assert.match(result.stdout, /sqlitePath: \/tmp\/elsewhere\.db/);
    assert.match(result.stdout, /parseInterval: 2h/);
    assert.match(result.stdout, /debug: true/);
    assert.match(result.stdout, /owner: acme\n\s+name: web/);
    assert.match(result.stdout, /maxAttempts: 7/);

    const fallback = tempDir();
    try {
      const viaEnv = await runCli(['config', 'check'], {
        cwd: fallback.path,
        env: { GITHUB_TOKEN: 'ghp_fromTheEnvironment', AUTOSOLVE_GITHUB_REPOSITORIES: 'acme/api' },
      });
      assert.equal(viaEnv.code, 0, viaEnv.stderr);
      assert.match(viaEnv.stdout, /token: "\*\*\* \(set, 22 characters\)"/);
      assert.ok(!viaEnv.stdout.includes('ghp_fromTheEnvironment'));
    } finally {
      fallback.cleanup();
    }
  });

  it('finds the file through AUTOSOLVE_CONFIG, warns about unknown AUTOSOLVE_ variables with a hint, and rejects bad values', async () => {
    const file = writeFile(dir.path, 'via-env.yml', GO_CONFIG);
    const ok = await runCli(['config', 'check'], { cwd: '/', env: { AUTOSOLVE_CONFIG: file } });
    assert.equal(ok.code, 0, ok.stderr);

    const typo = await runCli(['config', 'check'], { cwd: '/', env: { AUTOSOLVE_CONFIG: file, AUTOSOLVE_GITHUB_TOKN: 'x' } });
    assert.equal(typo.code, 0, typo.stderr);
    assert.match(typo.stderr, /warning: AUTOSOLVE_GITHUB_TOKN: unknown environment variable, ignored \(did you mean AUTOSOLVE_GITHUB_TOKEN\?\)/);

    const bad = await runCli(['config', 'check'], { cwd: '/', env: { AUTOSOLVE_CONFIG: file, AUTOSOLVE_GITHUB_TOKN: 'x', AUTOSOLVE_AI_DRYRUN: 'maybe' } });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /AUTOSOLVE_AI_DRYRUN: expected true or false/);
    assert.match(bad.stderr, /warning: AUTOSOLVE_GITHUB_TOKN: unknown environment variable/, 'the warning travels with the error');
  });

  it('says why the token is missing when it was set under a misspelt variable', async () => {
    const empty = tempDir();
    try {
      const result = await runCli(['config', 'check'], { cwd: empty.path, env: { AUTOSOLVE_GITHUB_TOKN: 'ghp_typo', AUTOSOLVE_GITHUB_REPOSITORIES: 'acme/api' } });
      assert.equal(result.code, 2);
      assert.match(result.stderr, /github\.token: required/);
      assert.match(result.stderr, /warning: AUTOSOLVE_GITHUB_TOKN: .*did you mean AUTOSOLVE_GITHUB_TOKEN/);
      assert.ok(!result.stderr.includes('ghp_typo'));
    } finally {
      empty.cleanup();
    }
  });

  it('answers usage errors with exit 2', async () => {
    const result = await runCli(['migrate', 'down', 'many'], { cwd: dir.path, env: { AUTOSOLVE_CONFIG: writeFile(dir.path, 'u.yml', GO_CONFIG) } });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /positive whole number of steps, got "many"/);
    const unknown = await runCli(['frobnicate'], { cwd: dir.path });
    assert.equal(unknown.code, 2);
  });
});
