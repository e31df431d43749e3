/**
 * The configuration of conversation and routing (issue 12): github.issues.reanalyze,
 * ai.mention, ai.mentionFrom, ai.maxRevisionsPerIssue, executors: and rules:,
 * through `autosolve config check` as a user runs it.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { runCli, tempDir, writeFile } from './support/cli.js';

const BASE = `github:
  token: ghp_configRulesToken0123456789
  repositories: [acme/api]
`;

interface Shown {
  github: { issues: { reanalyze: boolean } };
  ai: { mention: string; mentionFrom: string[]; maxRevisionsPerIssue: number };
  executors: Record<string, Record<string, unknown>>;
  rules: Array<{ when: Record<string, unknown>; then: Record<string, unknown> }>;
}

void describe('configuration: rules and executors', () => {
  let dir: { path: string; cleanup: () => void };
  before(() => {
    dir = tempDir();
  });
  after(() => dir.cleanup());

  async function check(name: string, yaml: string, env: Record<string, string> = {}) {
    const file = writeFile(dir.path, name, yaml);
    return runCli(['config', 'check', '--config', file], { cwd: dir.path, env });
  }

  void it('documents its defaults: reanalyze on, @autosolve from owners, members and collaborators, 3 revisions a day, no executors, no rules', async () => {
    const result = await check('defaults.yml', BASE);
    assert.equal(result.code, 0, result.stderr);
    const shown = parse(result.stdout.replace(/^#.*\n/, '')) as Shown;
    assert.equal(shown.github.issues.reanalyze, true);
    assert.equal(shown.ai.mention, '@autosolve');
    assert.deepEqual(shown.ai.mentionFrom, ['OWNER', 'MEMBER', 'COLLABORATOR']);
    assert.equal(shown.ai.maxRevisionsPerIssue, 3);
    assert.deepEqual(shown.executors, {});
    assert.deepEqual(shown.rules, []);
  });

  void it('loads named executors and rules, reads a prompt file next to the config file, and masks every executor key', async () => {
    const conf = join(dir.path, 'conf');
    mkdirSync(join(conf, 'prompts'), { recursive: true });
    writeFile(join(conf, 'prompts'), 'bug.md', 'Fix {{title}} in {{repository}}\n');
    const file = writeFile(
      conf,
      'config.yml',
      `${BASE}  issues:
    reanalyze: false
ai:
  mention: '@helper'
  mentionFrom: [owner, Member]
  maxRevisionsPerIssue: 5
executors:
  triage: { provider: ollama, model: qwen2.5, timeout: 30s }
  writer: { provider: openai, model: gpt-4o-mini, apiKey: sk-writer-secret-123456 }
  fallback: { provider: openai, model: gpt-4o }
  coder: { provider: command, run: [claude, -p], passEnv: [ANTHROPIC_API_KEY] }
  demo: { provider: demo }
rules:
  - when: { label: wontfix }
    then: { skip: true }
  - when:
      label: [bug, crash]
      titleMatches: '^\\[bug\\]'
      repository: acme/*
      authorAssociation: member
      event: [opened, edited]
    then: { executor: coder, prompt: { file: prompts/bug.md } }
  - then: { executor: triage, prompt: 'Triage {{title}}' }
  - when: { event: mention }
`,
    );
    // Run from elsewhere: the prompt file is found next to the config file, not in the working directory.
    const result = await runCli(['config', 'check', '--config', file], { cwd: dir.path, env: { OPENAI_API_KEY: 'sk-from-the-environment-0987' } });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(!result.stdout.includes('sk-writer-secret-123456'), 'an executor apiKey printed');
    assert.ok(!result.stdout.includes('sk-from-the-environment-0987'), 'OPENAI_API_KEY printed');
    const shown = parse(result.stdout.replace(/^#.*\n/, '')) as Shown;
    assert.equal(shown.github.issues.reanalyze, false);
    assert.equal(shown.ai.mention, '@helper');
    assert.deepEqual(shown.ai.mentionFrom, ['OWNER', 'MEMBER']);
    assert.equal(shown.ai.maxRevisionsPerIssue, 5);
    assert.deepEqual(shown.executors.triage, { provider: 'ollama', endpoint: 'http://localhost:11434', model: 'qwen2.5', timeout: '30s' });
    assert.match(String(shown.executors.writer?.apiKey), /^\*\*\* \(set, 23 characters\)$/);
    assert.match(String(shown.executors.fallback?.apiKey), /^\*\*\* \(set, 28 characters\)$/, 'falls back to OPENAI_API_KEY');
    assert.deepEqual(shown.executors.coder, { provider: 'command', run: ['claude', '-p'], passEnv: ['ANTHROPIC_API_KEY'] });
    assert.deepEqual(shown.rules[0], { when: { label: ['wontfix'] }, then: { skip: true, executor: 'default' } });
    assert.deepEqual(shown.rules[1], {
      when: { label: ['bug', 'crash'], titleMatches: '^\\[bug\\]', repository: ['acme/*'], authorAssociation: ['MEMBER'], event: ['opened', 'edited'] },
      then: { skip: false, executor: 'coder', prompt: { file: join(conf, 'prompts', 'bug.md') } },
    });
    assert.deepEqual(shown.rules[2], { when: {}, then: { skip: false, executor: 'triage', prompt: 'Triage {{title}}' } });
    assert.deepEqual(shown.rules[3], { when: { event: ['mention'] }, then: { skip: false, executor: 'default' } });
  });

  void it('names the rule index and field of every problem the schema finds, and exits 2', async () => {
    const result = await check(
      'bad-shape.yml',
      `${BASE}ai:
  mention: autosolve
  mentionFrom: [OWNER, STRANGER]
  maxRevisionsPerIssue: 0
executors:
  default: { provider: demo }
  coder: { provider: claude }
  shell: { provider: command }
  odd name: { provider: demo }
  chat: { provider: openai, model: gpt-4o, run: [x] }
rules:
  - when: { labels: bug }
  - when: { titleMatches: '(unclosed' }
  - then: { skip: true, executor: coder }
  - when: { event: closed, authorAssociation: nobody, repository: acme }
  - then: { prompt: 42 }
`,
    );
    assert.equal(result.code, 2, result.stdout + result.stderr);
    const err = result.stderr;
    for (const expected of [
      /ai\.mention: expected a handle such as @autosolve/,
      /ai\.mentionFrom\[1\]: expected one of OWNER, MEMBER, .*got "STRANGER"/,
      /ai\.maxRevisionsPerIssue: /,
      /executors\.default: the name "default" is reserved for the executor ai\.provider configures/,
      /executors\.coder\.provider: expected provider: ollama, openai, command or demo/,
      /executors\.shell\.run: required/,
      /executors\.odd name: expected an executor name/,
      /executors\.chat\.run: unknown key \(an openai executor takes provider, baseUrl, model, apiKey, timeout\)/,
      /rules\[0\]\.when\.labels: unknown key \(did you mean "label"\?\)/,
      /rules\[1\]\.when\.titleMatches: invalid regular expression: \/\(unclosed\/i: Unterminated group/,
      /rules\[2\]\.then\.executor: a rule with skip: true answers nothing/,
      /rules\[3\]\.when\.event\[0\]: expected opened, edited or mention, got "closed"/,
      /rules\[3\]\.when\.authorAssociation\[0\]: expected one of OWNER/,
      /rules\[3\]\.when\.repository\[0\]: expected an owner\/name glob/,
      /rules\[4\]\.then\.prompt: expected a template/,
    ]) {
      assert.match(err, expected);
    }
    assert.doesNotMatch(err, /\n\s+at /, 'no stack trace');
  });

  void it('names the rule of an unknown executor (listing the known ones) and of a prompt file that cannot be read, and exits 2', async () => {
    mkdirSync(join(dir.path, 'prompts'), { recursive: true });
    writeFile(join(dir.path, 'prompts'), 'empty.md', '  \n');
    const result = await check(
      'bad-names.yml',
      `${BASE}executors:
  triage: { provider: demo }
rules:
  - then: { executor: coder }
  - then: { executor: triage, prompt: { file: prompts/missing.md } }
  - then: { prompt: { file: prompts/empty.md } }
  - then: { prompt: { file: prompts } }
`,
    );
    assert.equal(result.code, 2, result.stdout + result.stderr);
    assert.match(result.stderr, /rules\[0\]\.then\.executor: no executor named "coder" \(known: default, triage\)/);
    assert.match(result.stderr, new RegExp(`rules\\[1\\]\\.then\\.prompt\\.file: ${join(dir.path, 'prompts', 'missing.md').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: file not found`));
    assert.match(result.stderr, /rules\[2\]\.then\.prompt\.file: .*empty\.md: is empty/);
    assert.match(result.stderr, /rules\[3\]\.then\.prompt\.file: .*prompts: is a folder/);
  });

  void it('takes executors and rules from the environment as JSON, and AUTOSOLVE_AI_MENTIONFROM as a list', async () => {
    const result = await check('env.yml', BASE, {
      AUTOSOLVE_EXECUTORS: '{"quick":{"provider":"demo"}}',
      AUTOSOLVE_RULES: '[{"when":{"label":"bug"},"then":{"executor":"quick"}}]',
      AUTOSOLVE_AI_MENTIONFROM: 'owner member',
    });
    assert.equal(result.code, 0, result.stderr);
    const shown = parse(result.stdout.replace(/^#.*\n/, '')) as Shown;
    assert.deepEqual(shown.executors, { quick: { provider: 'demo' } });
    assert.deepEqual(shown.rules, [{ when: { label: ['bug'] }, then: { skip: false, executor: 'quick' } }]);
    assert.deepEqual(shown.ai.mentionFrom, ['OWNER', 'MEMBER']);
    const bad = await check('env-bad.yml', BASE, { AUTOSOLVE_RULES: 'label=bug', AUTOSOLVE_EXECUTORS: 'quick' });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /AUTOSOLVE_RULES: expected a JSON array/);
    assert.match(bad.stderr, /AUTOSOLVE_EXECUTORS: expected a JSON object/);
  });
});
