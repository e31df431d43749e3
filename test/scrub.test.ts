/** scrubSecrets: what a comment may not carry to GitHub. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SCRUBBED_PLACEHOLDER, scrubSecrets } from '../src/domain/scrub.js';

const P = SCRUBBED_PLACEHOLDER;
const tail36 = 'aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5';

describe('scrubSecrets', () => {
  it('replaces every occurrence of each known secret with a visible placeholder and counts them', () => {
    const result = scrubSecrets('token=s3cr3t-token-value; again s3cr3t-token-value, key sk-live-abcdef123', ['s3cr3t-token-value', 'sk-live-abcdef123']);
    assert.equal(result.text, `token=${P}; again ${P}, key ${P}`);
    assert.equal(result.scrubbed, 3);
  });

  it('removes strings shaped like any kind of GitHub token, known or not', () => {
    const tokens = [`ghp_${tail36}`, `gho_${tail36}`, `ghu_${tail36}`, `ghs_${tail36}`, `ghr_${tail36}`, `github_pat_11ABCDEFG0123456789_${'x'.repeat(59)}`];
    const text = tokens.map((token, i) => `${i}: "${token}"`).join('\n');
    const result = scrubSecrets(text, []);
    assert.equal(result.text, tokens.map((_, i) => `${i}: "${P}"`).join('\n'));
    assert.equal(result.scrubbed, tokens.length);
  });

  it('removes a token glued to other text, which a reader could simply cut off', () => {
    const result = scrubSecrets(`prefix_ghp_${tail36} and x${'github_pat_'}${'Z'.repeat(40)}`, []);
    assert.equal(result.text, `prefix_${P} and x${P}`);
    assert.equal(result.scrubbed, 2);
  });

  it('removes a longer secret whole even when a shorter one is inside it, and never scrubs its own placeholder', () => {
    const result = scrubSecrets('abcdefgh-and-more and abcdefgh', ['abcdefgh', 'abcdefgh-and-more', 'secret removed']);
    assert.equal(result.text, `${P} and ${P}`);
    assert.equal(result.scrubbed, 2);
  });

  it('treats secrets as literal text, not patterns', () => {
    const result = scrubSecrets('a.b*c+d?(e) and aXbbbcdde', ['a.b*c+d?(e)']);
    assert.equal(result.text, `${P} and aXbbbcdde`);
    assert.equal(result.scrubbed, 1);
  });

  it('leaves ordinary text, short values and mere mentions of token prefixes alone', () => {
    const text = 'Set GITHUB_TOKEN to a ghp_ token (ghp_...); the flag is true; see github_pat_ docs and sha 3f786850e387550fdab836ed7e6dc881de23001b.';
    const result = scrubSecrets(text, ['true', '', '1234567']);
    assert.equal(result.text, text);
    assert.equal(result.scrubbed, 0);
  });
});
