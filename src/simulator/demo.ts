/** The built-in seed for demos: three repositories with realistic issues in every state autosolve meets. */
import { COMMENT_MARKER } from '../domain/entities.js';
import type { Scenario, SimIssueInput } from './types.js';

const BASE_MS = Date.parse('2025-10-06T08:00:00Z');

/** A fixed timestamp `hours` after the demo's epoch, so every run seeds identical data. */
function at(hours: number): string {
  return new Date(BASE_MS + hours * 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function issue(
  hours: number,
  updatedAfterHours: number,
  title: string,
  body: string | null,
  labels: string[],
  extra: Partial<SimIssueInput> = {},
): SimIssueInput {
  return { title, body, labels, createdAt: at(hours), updatedAt: at(hours + updatedAfterHours), ...extra };
}

/** Several KB of log output, the way users paste it into bug reports. */
function longStackTraceBody(): string {
  const frames = Array.from(
    { length: 48 },
    (_, i) =>
      `    at ${['processChunk', 'readStream', 'resizeImage', 'uploadHandler', 'runMiddleware', 'next'][i % 6]} ` +
      `(/app/node_modules/.pnpm/sharp@0.33.${i % 5}/node_modules/sharp/lib/pipeline.js:${120 + i * 7}:${11 + (i % 9)})`,
  );
  const log = Array.from(
    { length: 30 },
    (_, i) =>
      `2025-10-0${7 + (i % 3)}T1${i % 10}:0${i % 6}:${10 + i}Z WARN upload avatar=${4_900_000 + i * 25_000}B ` +
      `user=u_${1000 + i} memory.rss=${812 + i * 3}MB heap.used=${640 + i * 2}MB gc.pause=${40 + i}ms`,
  );
  return [
    '### What happened',
    'Uploading a profile picture larger than about 5 MB makes the request hang for ~30 s and then the',
    'server answers 502. Smaller images work. It started after the upgrade to 4.2.0.',
    '',
    '### Steps to reproduce',
    '1. Sign in as any user',
    '2. Open Settings → Profile',
    '3. Upload a 6 MB JPEG (e.g. straight from a phone camera)',
    '',
    '### Stack trace',
    '```',
    'RangeError [ERR_OUT_OF_RANGE]: The value of "size" is out of range. It must be >= 0 && <= 4294967296.',
    ...frames,
    '```',
    '',
    '### Server log around the failure',
    '```',
    ...log,
    '```',
    '',
    '### Environment',
    '- webapp 4.2.0, Node.js 20.11, Debian 12 container with a 1 GB memory limit',
    '- Reproduced in Chrome 126 and Firefox 127',
  ].join('\n');
}

export function demoScenario(): Scenario {
  const webapp: SimIssueInput[] = [
    issue(0, 30, 'Login page crashes on Safari 17 when the password manager autofills', [
      'Steps: open /login in Safari 17.4, let iCloud Keychain fill both fields, press Enter.',
      'Expected: signed in. Actual: white page, console shows `TypeError: null is not an object (evaluating \'form.elements\')`.',
    ].join('\n'), ['bug', 'autosolve'], { user: 'jlee' }),
    issue(5, 52, 'Add a dark mode toggle to the settings page', 'Many of us work at night; the app ignores `prefers-color-scheme` and has no manual switch.', ['enhancement', 'autosolve'], { user: 'priya-k' }),
    issue(11, 3, 'Dashboard chart tooltips overlap on screens narrower than 400px', 'On a Pixel 7 the tooltip of the revenue chart covers the legend and cannot be dismissed.', ['bug'], { user: 'tomasz' }),
    issue(18, 70, 'Session expires while typing a long comment', 'If I spend more than 15 minutes writing a comment, submitting it logs me out and the text is lost.', ['bug', 'autosolve'], {
      user: 'maria-dev',
      comments: [
        { body: 'Same here on 4.1.3; the refresh token is not renewed while the editor has focus.', user: 'jlee', createdAt: at(40) },
        { body: `${COMMENT_MARKER}\nThe session refresh only runs on navigation. Renewing it from the editor's keep-alive (every 5 min while typing) fixes this; see the suggested patch below.`, user: 'autosolve-go[bot]', createdAt: at(88) },
      ],
    }),
    issue(26, 8, 'Fix race in the websocket reconnect loop', 'Two reconnect timers could run at once after a network change, opening duplicate sockets. This keeps one timer per client.', ['autosolve'], { user: 'priya-k', pullRequest: true }),
    issue(31, 45, 'Upgrade to React 19', 'Tracking issue for the upgrade; blocked on the charts library.', ['chore'], { user: 'tomasz', state: 'closed' }),
    issue(39, 12, 'Export the orders table as CSV', 'Finance asks for a CSV export with the currently applied filters.', ['enhancement'], { user: 'anna-b' }),
    issue(47, 20, 'Upload of avatars larger than 5 MB fails with 502', longStackTraceBody(), ['bug', 'autosolve'], { user: 'devops-sam' }),
  ];
  const api: SimIssueInput[] = [
    issue(2, 14, 'GET /v2/orders returns 500 when `limit` is 0', '`curl \'/v2/orders?limit=0\'` → 500 `division by zero` in the pagination helper. Expected 400 or an empty page.', ['bug', 'autosolve'], { user: 'k8s-ops' }),
    issue(9, 33, 'Rate limiter counts CORS preflight requests', 'Browsers send OPTIONS before each POST, so web clients hit the limit twice as fast as documented.', ['bug', 'autosolve'], { user: 'anna-b' }),
    issue(15, 62, 'Support cursor-based pagination on /v2/events', 'Offset pagination skips events when new ones arrive between pages. A `cursor` parameter would make exports reliable.', ['enhancement', 'autosolve'], { user: 'jlee' }),
    issue(22, 6, 'Document the webhook signature algorithm', 'The docs say "signed" but not how: HMAC-SHA256 over the raw body? Which header?', ['documentation'], { user: 'partner-dev' }),
    issue(29, 27, 'Timezone offset lost when parsing `created_after`', '`created_after=2025-10-01T00:00:00+02:00` is treated as UTC, so results start two hours late.', ['bug'], { user: 'maria-dev' }),
    issue(36, 90, 'Add OpenTelemetry traces for database queries', 'We cannot tell which endpoint causes the slow queries we see in Postgres.', ['enhancement'], { user: 'devops-sam' }),
    issue(44, 17, 'Health check returns 200 while the database is unreachable', '`/healthz` only checks that the process runs; the load balancer keeps sending traffic to a broken instance.', ['bug', 'autosolve'], { user: 'k8s-ops' }),
    issue(53, 5, 'Deprecate the v1 authentication endpoints', null, [], { user: 'tomasz' }),
  ];
  const docs: SimIssueInput[] = [
    issue(7, 19, 'Broken link to the quickstart in the README', 'The "Get started" link points to /docs/quickstart.md, which was renamed to /docs/getting-started.md.', ['documentation', 'autosolve'], { user: 'first-timer' }),
    issue(20, 42, 'Explain how to rotate API keys without downtime', 'The security page says keys should be rotated every 90 days but not how to do it while clients are live.', ['documentation', 'autosolve'], { user: 'partner-dev' }),
    issue(34, 2, 'Typo in the configuration reference: `retires` → `retries`', 'Section "HTTP client", third table row.', ['good first issue'], { user: 'first-timer' }),
    issue(50, 25, 'Add a Spanish translation of the getting started guide', 'Happy to review if someone drafts it.', ['enhancement'], { user: 'lucia-m' }),
  ];
  return {
    repositories: [
      { owner: 'demo', name: 'webapp', issues: webapp },
      { owner: 'demo', name: 'api', issues: api },
      { owner: 'demo', name: 'docs', issues: docs },
    ],
  };
}
