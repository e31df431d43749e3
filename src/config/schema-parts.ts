/** Value types several parts of the configuration schema share: durations, URLs, folders. */
import { statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { parseDuration } from './duration.js';

const DURATION_HINT = 'a duration like 250ms, 5s, 1m30s or 2h';

/** A duration in milliseconds, written as text (`1m30s`). */
export function duration(defaultMs: number, options: { positive?: boolean } = {}) {
  return durationText(options).default(defaultMs);
}

export function durationText({ positive = false }: { positive?: boolean } = {}) {
  return z
    .union([z.string(), z.number()])
    .transform((value, ctx) => {
      const ms = typeof value === 'number' ? (value === 0 ? 0 : undefined) : parseDuration(value);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected ${DURATION_HINT}, got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      if (positive && ms <= 0) {
        ctx.addIssue({ code: 'custom', message: `expected a positive duration (${DURATION_HINT}), got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return ms;
    });
}

export const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

/** An absolute path to a folder that exists when the configuration is checked. */
export const existingFolder = z.string().superRefine((value, ctx) => {
  if (!isAbsolute(value)) {
    ctx.addIssue({ code: 'custom', message: `expected an absolute path to an existing folder, got ${JSON.stringify(value)}` });
    return;
  }
  const info = statSync(value, { throwIfNoEntry: false });
  if (info === undefined) ctx.addIssue({ code: 'custom', message: `${value} does not exist; create the folder or remove the key` });
  else if (!info.isDirectory()) ctx.addIssue({ code: 'custom', message: `${value} is not a folder` });
});

export const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name');
