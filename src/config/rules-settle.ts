/**
 * What the schema alone cannot check about rules: that each names an executor
 * that exists, and that each prompt file can be read (relative to the config
 * file's folder). Problems name the rule and the field.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_EXECUTOR } from '../domain/rules.js';
import type { ParsedRule, SettledRule } from './schema-rules.js';

/** The rules with prompt files read; every problem is pushed onto `problems`. */
export function settleRules(rules: readonly ParsedRule[], executors: Readonly<Record<string, unknown>>, base: string, problems: string[]): SettledRule[] {
  const known = [DEFAULT_EXECUTOR, ...Object.keys(executors).sort()];
  return rules.map((rule, index): SettledRule => {
    const where = `rules[${index}].then`;
    const executor = rule.then.executor ?? DEFAULT_EXECUTOR;
    if (!known.includes(executor)) problems.push(`${where}.executor: no executor named "${executor}" (known: ${known.join(', ')})`);
    const source = rule.then.prompt;
    const then = { skip: rule.then.skip, executor };
    if (source === undefined) return { when: rule.when, then };
    if ('text' in source) return { when: rule.when, then: { ...then, prompt: source.text } };
    const file = resolve(base, source.file);
    const read = readTemplate(file);
    if (read.problem !== undefined) {
      problems.push(`${where}.prompt.file: ${file}: ${read.problem}`);
      return { when: rule.when, then };
    }
    return { when: rule.when, then: { ...then, prompt: read.text, promptFile: file } };
  });
}

function readTemplate(file: string): { text: string; problem?: undefined } | { text?: undefined; problem: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { problem: 'file not found' };
    if (code === 'EISDIR') return { problem: 'is a folder, expected a template file' };
    return { problem: `cannot be read (${code ?? 'error'})` };
  }
  return text.trim() === '' ? { problem: 'is empty' } : { text };
}
