/**
 * The README's own steps, followed as written: the shipped config.example.yml,
 * a token in the environment, `config check`, `run`, `status`. GitHub is the
 * simulator (the only change to the steps: where api.github.com is).
 */
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Simulator } from '../src/simulator/index.js';
import { ROOT, runCli, startCli, tempDir } from './support/cli.js';
import { listRequests, simulator, TOKEN } from './support/daemon.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The first `sh` block after a heading, one command per line, comments dropped. */
function stepsUnder(heading: string): string[] {
  const section = README.slice(README.indexOf(`\n${heading}\n`));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, `no sh block under ${heading}`);
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
}

/** Markdown link targets, without anchors. */
function linksOf(markdown: string): string[] {
  return [...markdown.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => (m[1] ?? '').replace(/#.*$/, '')).filter(Boolean);
}

describe('the README', () => {
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

  it('steps, followed literally with only a token set, pass config check on the shipped example and reach a running daemon', async () => {
    sim = await simulator([{ owner: 'acme', name: 'api', issues: [{ title: 'An old question' }] }]);
    const env: Record<string, string> = {};
    // Where GitHub is, for the steps that talk to it; config check must pass without it.
    const github = () => ({ ...env, AUTOSOLVE_GITHUB_BASEURL: sim?.url ?? '' });
    let daemon: ReturnType<typeof startCli> | undefined;
    const done: string[] = [];
    try {
      for (const step of stepsUnder('## Running it on your repositories')) {
        const [command, ...args] = step.split(/\s+/);
        if (command === 'cp' && args.length === 2) {
          copyFileSync(join(ROOT, args[0] ?? ''), join(dir.path, args[1] ?? ''));
        } else if (command === 'export') {
          const [name] = (args[0] ?? '').split('=');
          assert.equal(name, 'GITHUB_TOKEN', `the README exports ${name}; this test only knows the token`);
          env[name] = TOKEN;
        } else if (step === 'npx autosolve config check') {
          const check = await runCli(['config', 'check'], { cwd: dir.path, env });
          assert.equal(check.code, 0, check.stderr);
          assert.match(check.stdout, /# configuration is valid \(.*config\.yml\)/);
          assert.doesNotMatch(check.stderr, /warning/, 'the shipped example draws no warning');
        } else if (step === 'npx autosolve run') {
          daemon = startCli(['run'], { cwd: dir.path, env: github() });
          const running = daemon;
          // Running means: setup passed and the poller read the repository's issues.
          const polled = new Promise<void>((resolve) => {
            const seen = () => listRequests(sim!, 'acme/api').some((r) => r.status === 200);
            if (seen()) resolve();
            const stop = sim!.onRequest(() => {
              if (seen()) {
                stop();
                resolve();
              }
            });
          });
          const ended = running.finished.then((result) => {
            throw new Error(`run exited ${String(result.code)} before polling:\n${result.stdout}${result.stderr}`);
          });
          let timer: NodeJS.Timeout | undefined;
          const deadline = new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`run did not poll acme/api within 90 s:\n${running.output().stdout}${running.output().stderr}`)), 90_000);
          });
          await Promise.race([polled, ended, deadline]).finally(() => clearTimeout(timer));
        } else if (step === 'npx autosolve status') {
          const status = await runCli(['status'], { cwd: dir.path, env: github() });
          assert.equal(status.code, 0, status.stderr);
          assert.match(status.stdout, /acme\/api/);
        } else {
          assert.fail(`the README has a step this test does not know how to follow: ${step}`);
        }
        done.push(step);
      }
      assert.deepEqual(
        done.map((step) => step.split(/\s+/).slice(0, 3).join(' ')),
        ['cp config.example.yml config.yml', 'export GITHUB_TOKEN=ghp_...', 'npx autosolve config', 'npx autosolve run', 'npx autosolve status'],
      );
      assert.ok(existsSync(join(dir.path, 'autosolve.db')), 'the database sits next to config.yml');
      assert.ok(daemon, 'the daemon was started');
      daemon.child.kill('SIGINT'); // Ctrl-C
      const stopped = await daemon.finished;
      assert.equal(stopped.code, 0, stopped.stdout + stopped.stderr);
      daemon = undefined;
    } finally {
      daemon?.child.kill('SIGKILL');
      await daemon?.finished;
    }
  });

  it('links nothing outside the repository, and every file it links exists', () => {
    for (const [file, base] of [
      ['README.md', ROOT],
      ['docs/architecture.md', join(ROOT, 'docs')],
    ] as const) {
      for (const target of linksOf(readFileSync(join(ROOT, file), 'utf8'))) {
        assert.doesNotMatch(target, /^[a-z]+:/i, `${file} links outside the repository: ${target}`);
        assert.ok(join(base, target).startsWith(ROOT), `${file} links outside the repository: ${target}`);
        assert.ok(existsSync(join(base, target)), `${file} links ${target}, which does not exist`);
      }
    }
  });

  it('architecture map names only source paths that exist', () => {
    const map = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
    const paths = [...map.matchAll(/`((?:src|test|bench|docs|examples)\/[^`\s]+)`/g)].map((m) => m[1] ?? '');
    assert.ok(paths.length > 10, 'the map names the files it describes');
    for (const path of paths) assert.ok(existsSync(join(ROOT, path)), `docs/architecture.md names ${path}, which does not exist`);
  });
});
