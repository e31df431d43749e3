/**
 * An executor that needs no model: a deterministic triage note computed from
 * the issue itself. For the demo and for trying autosolve out before wiring a
 * real model; the same issue always yields the same text.
 */
import type { Executor, ExecutorInput, ExecutorOutput } from '../../domain/ports.js';
import { abortError } from './failures.js';

type Kind = 'bug' | 'feature' | 'question';

const KIND_WORDS: Record<Kind, readonly string[]> = {
  bug: ['bug', 'crash', 'error', 'exception', 'fail', 'fails', 'failed', 'broken', 'regression', 'panic', 'wrong', 'stack trace'],
  feature: ['feature', 'add', 'support', 'request', 'proposal', 'would be nice', 'enhancement', 'allow', 'option'],
  question: ['question', 'how', 'why', 'what', 'help', 'docs', 'documentation', 'is it possible', 'can i'],
};

const URGENT_WORDS = ['crash', 'data loss', 'security', 'vulnerability', 'urgent', 'production', 'outage', 'regression', 'panic'];

const NEXT_STEPS: Record<Kind, readonly string[]> = {
  bug: [
    'Reproduce the problem with the steps and version given in the issue.',
    'Ask the reporter for logs or a minimal reproduction if they are missing.',
    'Add a failing test before fixing it.',
  ],
  feature: [
    'Decide whether the request fits the project’s scope.',
    'Ask for the concrete use case if it is not stated.',
    'Sketch the smallest change that would satisfy it.',
  ],
  question: [
    'Answer the question or point to the relevant documentation.',
    'If the answer is not documented, consider adding it to the docs.',
    'Close the issue once the reporter confirms.',
  ],
};

export class DemoExecutor implements Executor {
  readonly description = 'demo executor';

  run(input: ExecutorInput, signal: AbortSignal): Promise<ExecutorOutput> {
    if (signal.aborted) return Promise.reject(abortError(this.description));
    return Promise.resolve({ text: triage(input), model: 'the demo executor (no AI model)' });
  }
}

function triage(input: ExecutorInput): string {
  const text = `${input.title}\n${input.body}`.toLowerCase();
  const labels = input.labels.map((label) => label.toLowerCase());
  const kind = guessKind(text, labels);
  const words = input.body.trim() === '' ? 0 : input.body.trim().split(/\s+/).length;
  const priority = guessPriority(text, labels, kind);
  return [
    `**Summary**: ${firstSentence(input.body) ?? `“${input.title.trim()}” (the issue has no description).`}`,
    '',
    `- **Kind (guessed)**: ${kind}`,
    `- **Priority (guessed)**: ${priority}`,
    `- **Labels**: ${input.labels.length > 0 ? input.labels.join(', ') : 'none'}`,
    `- **Length**: ${words} ${words === 1 ? 'word' : 'words'}${words < 20 ? ' (short: details may be missing)' : ''}`,
    '',
    '**Next steps**',
    ...NEXT_STEPS[kind].map((step, index) => `${index + 1}. ${step}`),
  ].join('\n');
}

function guessKind(text: string, labels: readonly string[]): Kind {
  for (const kind of ['bug', 'feature', 'question'] as const) {
    if (labels.some((label) => label.includes(kind) || (kind === 'feature' && label.includes('enhancement')))) return kind;
  }
  let best: Kind = 'question';
  let bestScore = 0;
  for (const kind of ['bug', 'feature', 'question'] as const) {
    const score = KIND_WORDS[kind].filter((word) => containsWord(text, word)).length;
    if (score > bestScore) {
      best = kind;
      bestScore = score;
    }
  }
  return best;
}

function guessPriority(text: string, labels: readonly string[], kind: Kind): 'high' | 'medium' | 'low' {
  if (labels.some((label) => /critical|urgent|security|p0|p1/.test(label))) return 'high';
  if (URGENT_WORDS.some((word) => containsWord(text, word))) return 'high';
  return kind === 'bug' ? 'medium' : 'low';
}

function containsWord(text: string, word: string): boolean {
  const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[^a-z0-9])${escaped}($|[^a-z0-9])`).test(text);
}

function firstSentence(body: string): string | undefined {
  const prose = body
    .replace(/```[\s\S]*?```/g, ' ')
    .replace(/^\s*[#>*-]+\s*/gm, '')
    .replace(/\s+/g, ' ')
    .trim();
  if (prose === '') return undefined;
  const match = /^.*?[.!?](?=\s|$)/.exec(prose);
  const sentence = match ? match[0] : prose;
  return sentence.length > 280 ? `${sentence.slice(0, 280)}…` : sentence;
}
