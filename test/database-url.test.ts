// database.url: PostgreSQL chosen by configuration or DATABASE_URL, its password never shown (config check, errors, migrate, status).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { runCli, tempDir, writeFile } from './support/cli.js';
import { createSchema, dropSchema, postgresMissing, schemaUrl } from './support/engines.js';
import { skipUnlessAvailable } from './support/skips.js';

const PASSWORD = 'pw-Zq81xK-never-shown';
/** The test server trusts every login, so any password connects: what matters is where it shows. */
const withPassword = (url: string) => {
  const parsed = new URL(url);
  parsed.password = PASSWORD;
  return parsed.toString();
};

describe('database.url (CLI)', () => {
  let dir: { path: string; cleanup: () => void };
  before(() => {
    dir = tempDir();
  });
  after(() => dir.cleanup());

  it('config check shows the URL without its password, from the file, AUTOSOLVE_DATABASE_URL or DATABASE_URL', async () => {
    const file = writeFile(dir.path, 'config.yml', `github:\n  token: t0k3n-for-config-check\n  repositories: [acme/api]\ndatabase:\n  url: postgres://app:${PASSWORD}@db.internal:5432/autosolve\n`);
    const fromFile = await runCli(['config', 'check', '--config', file], { cwd: dir.path });
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.match(fromFile.stdout, /url: postgres:\/\/app:\*\*\*@db\.internal:5432\/autosolve/);
    assert.match(fromFile.stdout, /poolSize: 10/);
    assert.match(fromFile.stdout, /statementTimeout: 30s/);

    const bare = writeFile(dir.path, 'bare.yml', 'github:\n  token: t0k3n-for-config-check\n  repositories: [acme/api]\n');
    for (const name of ['AUTOSOLVE_DATABASE_URL', 'DATABASE_URL']) {
      const fromEnv = await runCli(['config', 'check', '--config', bare], { cwd: dir.path, env: { [name]: `postgresql://ops:${PASSWORD}@10.0.0.5/fleet` } });
      assert.equal(fromEnv.code, 0, fromEnv.stderr);
      assert.match(fromEnv.stdout, /url: postgresql:\/\/ops:\*\*\*@10\.0\.0\.5\/fleet/, name);
      assert.ok(!`${fromEnv.stdout}${fromEnv.stderr}`.includes(PASSWORD), `${name}: the password is shown`);
    }
    assert.ok(!`${fromFile.stdout}${fromFile.stderr}`.includes(PASSWORD));
  });

  it('refuses a URL that is not PostgreSQL with exit 2, naming the key and not repeating the value', async () => {
    const file = writeFile(dir.path, 'mysql.yml', `github:\n  token: t0k3n-for-config-check\n  repositories: [acme/api]\ndatabase:\n  url: mysql://app:${PASSWORD}@db/autosolve\n`);
    const result = await runCli(['config', 'check', '--config', file], { cwd: dir.path });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /database\.url: expected a postgres:\/\/user:password@host:5432\/database URL/);
    assert.ok(!result.stderr.includes(PASSWORD));
  });

  it('a server that does not answer stops the daemon with exit 1, naming host and port, never the password', async () => {
    const file = writeFile(dir.path, 'down.yml', `github:\n  token: t0k3n-for-config-check\n  repositories: [acme/api]\ndatabase:\n  url: postgres://app:${PASSWORD}@127.0.0.1:1/autosolve\n`);
    const result = await runCli(['run', '--once', '--config', file], { cwd: dir.path });
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /cannot use the database postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/autosolve: no PostgreSQL server answers at 127\.0\.0\.1:1/);
    assert.ok(!`${result.stdout}${result.stderr}`.includes(PASSWORD));
  });

  describe('on a PostgreSQL server', async () => {
    const skip = skipUnlessAvailable({ what: 'PostgreSQL', missing: await postgresMissing(), requiredBy: 'AUTOSOLVE_REQUIRE_POSTGRES' });
    let schema = '';
    before(async () => {
      if (!skip) schema = await createSchema();
    });
    after(async () => {
      if (schema) await dropSchema(schema);
    });

    it('migrate up, migrate status and status work there and name it without the password', { skip }, async () => {
      const env = { DATABASE_URL: withPassword(schemaUrl(schema)) };
      const file = writeFile(dir.path, 'pg.yml', 'github:\n  token: t0k3n-for-config-check\n  repositories: [acme/api]\n');
      const up = await runCli(['migrate', 'up', '--config', file], { cwd: dir.path, env });
      assert.equal(up.code, 0, up.stderr);
      assert.match(up.stdout, /^applied: 001-initial$/m);
      const status = await runCli(['migrate', 'status', '--config', file], { cwd: dir.path, env });
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /^database: postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/test/m);
      assert.doesNotMatch(status.stdout, /^pending/m);
      const daemonStatus = await runCli(['status', '--config', file], { cwd: dir.path, env });
      assert.equal(daemonStatus.code, 0, daemonStatus.stderr);
      for (const output of [up, status, daemonStatus]) assert.ok(!`${output.stdout}${output.stderr}`.includes(PASSWORD));
    });
  });
});
