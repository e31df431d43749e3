/**
 * How configuration problems read: each names its key path (or file, line and
 * column) and, for the mistakes people make most, says how to write it instead.
 */
import type { YAMLError } from 'yaml';
import type { z } from 'zod';
import { EXECUTOR_KEYS } from './schema-rules.js';
import { keyPaths, keysAt } from './schema-walk.js';
import { closest } from './suggest.js';

export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => (typeof key === 'number' ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key)), '');
}

/** Anything shaped like a GitHub token, wherever a value is echoed (a token pasted under the wrong key). */
function maskTokenShapes(text: string): string {
  return text.replace(/\b(gh[pousr]_|github_pat_)[A-Za-z0-9_]+/g, '$1***');
}

/** Secrets must not reach an error message, even inside a quoted line of the file. */
export function maskSecrets(line: string): string {
  return maskTokenShapes(line.replace(/((?:token|apikey|api_key|password|secret)["']?\s*:\s*).+/gi, '$1***'));
}

/** The first YAML error with its place and the lines around it; later ones usually follow from it. */
export function describeYamlError(file: string, text: string, error: YAMLError): string {
  const what = (error.message.split('\n')[0] ?? error.message).replace(/ at line \d+, column \d+:?$/, '');
  const at = error.linePos?.[0];
  if (!at) return `${file}: YAML syntax error: ${what}`;
  const lines = text.split(/\r?\n/);
  const width = String(at.line + 1).length;
  const show = (n: number) => `      ${String(n).padStart(width)} | ${maskSecrets(lines[n - 1] ?? '')}`;
  // The line after too: the parser often stops on the line before the one that is wrong (a bad indent).
  const frame = [
    ...(at.line > 1 ? [show(at.line - 1)] : []),
    show(at.line),
    `      ${' '.repeat(width)} | ${' '.repeat(Math.max(0, at.col - 1))}^`,
    ...(at.line < lines.length && (lines[at.line] ?? '').trim() !== '' ? [show(at.line + 1)] : []),
  ];
  return `${file}:${at.line}:${at.col}: YAML syntax error: ${what}\n${frame.join('\n')}`;
}

/** Names people give the token when they put it in the wrong place. */
const TOKEN_NAMES = new Set(['token', 'githubtoken', 'github_token', 'gh_token', 'pat', 'accesstoken', 'access_token']);

/** Where an unknown key probably belongs: a close sibling, or the same key in another section. */
function hintFor(key: string, where: readonly PropertyKey[], raw: unknown): string | undefined {
  if (TOKEN_NAMES.has(key.toLowerCase())) return 'the GitHub token goes in github.token, or set the GITHUB_TOKEN environment variable';
  // A named executor: the keys of its provider, not the same word elsewhere in the file.
  if (where[0] === 'executors' && where.length === 2) {
    const provider = valueAt(raw, [...where, 'provider']);
    const keys = typeof provider === 'string' ? EXECUTOR_KEYS[provider] : undefined;
    return keys ? `${/^[aeiou]/.test(provider as string) ? 'an' : 'a'} ${provider as string} executor takes ${keys.join(', ')}` : undefined;
  }
  // The very key in another section beats a near miss here: `model:` at the top is ollama.model, not otel.
  const elsewhere = keyPaths().filter((path) => path[path.length - 1]?.toLowerCase() === key.toLowerCase());
  if (elsewhere.length > 0 && elsewhere.length <= 3) return `did you mean ${elsewhere.map((path) => path.join('.')).join(' or ')}?`;
  const sibling = closest(key, keysAt(where));
  return sibling ? `did you mean "${sibling}"?` : undefined;
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let node = raw;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

/** `repositories: acme/api` (one string) or a single `owner:`/`name:` mapping instead of a list. */
function repositoriesHint(value: unknown): string | undefined {
  if (typeof value === 'string') {
    const items = value.split(/[\s,]+/).filter(Boolean);
    return `expected a list, got the text ${JSON.stringify(value)}; write one repository per line:\n      repositories:\n${items.map((item) => `        - ${item}`).join('\n')}`;
  }
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return 'expected a list, got a single mapping; put "- " before owner to make it a list item:\n      repositories:\n        - owner: acme\n          name: api';
  }
  return undefined;
}

export function describeIssue(issue: z.core.$ZodIssue, raw: unknown): string {
  return maskTokenShapes(describe(issue, raw));
}

function describe(issue: z.core.$ZodIssue, raw: unknown): string {
  const where = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys
      .map((key) => {
        const hint = hintFor(key, issue.path, raw);
        const full = where ? `${where}.${key}` : key;
        return `${full}: unknown key${hint ? ` (${hint})` : ''}`;
      })
      .join('\n  - ');
  }
  // A bad key of a mapping (an executor's name): what is wrong with it, not zod's "Invalid key in record".
  if (issue.code === 'invalid_key') return `${where}: ${issue.issues[0]?.message ?? issue.message}`;
  if (where === 'github.repositories' && issue.code === 'invalid_type') {
    const hint = repositoriesHint(valueAt(raw, issue.path));
    if (hint) return `${where}: ${hint}`;
  }
  if (where === 'github.token' && issue.code === 'invalid_type') {
    return `${where}: expected the token as text (quote it: token: "..."), or leave it empty and set GITHUB_TOKEN`;
  }
  if (issue.code === 'invalid_type' && issue.message.includes('received undefined')) {
    return `${where}: required (expected ${issue.expected})`;
  }
  return `${where || '(top level)'}: ${issue.message.replace(/^Invalid input: /, '')}`;
}
