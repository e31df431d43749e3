/**
 * Removes secrets from text before it leaves for GitHub. Whatever answers an
 * issue (a model, an agent with a shell) may have been talked by the issue's
 * author into printing a credential it saw; the comment would publish it. So
 * every comment body is scrubbed of the secrets we know (the configured token
 * and keys) and of anything shaped like a GitHub token, whoever it belongs to.
 */

/** What replaces each secret: visible, so a reader knows something was cut. */
export const SCRUBBED_PLACEHOLDER = '[secret removed]';

/**
 * Known secrets shorter than this are not scrubbed: a value like `1` or
 * `true` handed to the command would otherwise cut ordinary words out of
 * every answer, and no real credential is that short.
 */
export const MIN_SECRET_CHARS = 8;

/**
 * GitHub's token formats: `ghp_` (classic personal), `gho_` (OAuth), `ghu_`
 * (user-to-server), `ghs_` (server-to-server, Actions), `ghr_` (refresh), each
 * followed by 36 base62 characters, and `github_pat_` (fine-grained). A
 * shorter tail still counts: a cut-off token is still a leak. No word boundary
 * in front: `xghp_…` is a token with one letter to delete.
 */
const GITHUB_TOKEN_SHAPE = 'gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}';

export interface ScrubResult {
  readonly text: string;
  /** How many secrets were replaced. */
  readonly scrubbed: number;
}

/**
 * `text` with every occurrence of each secret (at least MIN_SECRET_CHARS
 * long) and every GitHub-token-shaped string replaced by SCRUBBED_PLACEHOLDER.
 * One pass over the text, longest secret first, so a secret containing another
 * is removed whole and a placeholder is never scrubbed again.
 */
export function scrubSecrets(text: string, secrets: readonly string[]): ScrubResult {
  const known = [...new Set(secrets.filter((secret) => secret.length >= MIN_SECRET_CHARS))].sort((a, b) => b.length - a.length);
  const pattern = new RegExp([...known.map(escapeRegExp), GITHUB_TOKEN_SHAPE].join('|'), 'g');
  let scrubbed = 0;
  const cleaned = text.replace(pattern, () => {
    scrubbed += 1;
    return SCRUBBED_PLACEHOLDER;
  });
  return { text: cleaned, scrubbed };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A connection URL (database.url) as it may be shown in logs, errors and `config check`: the password replaced, everything else kept. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://(a URL that cannot be parsed)';
  }
}
