/**
 * The dashboard's jobs card: the queue by type (answer, revise, follow-up)
 * and state, and the latest queue jobs, each with what it is about (a
 * follow-up names the comment it answers) and how it ended (answered, revised,
 * current, skipped, ...). The server renderer and the client script's `jobs()`
 * sit side by side here so they stay in step; every string is escaped by the
 * server and set as a text node by the script.
 */
import { QUEUE_JOB_STATES } from '../../domain/ports.js';
import { age, count, escapeHtml } from './dashboard-text.js';

type Totals = { pending: number; running: number; done: number; dead: number };

export interface DashboardJobs {
  /** Queue jobs by type and state, types in name order. */
  byType: Record<string, Totals>;
  /** The latest queue jobs, newest first. */
  latest: Array<{
    id: number;
    repository: string;
    /** Null when the issue is no longer stored. */
    number: number | null;
    title: string;
    /** answer, revise or follow-up (another type is shown as it is). */
    type: string;
    /** The comment a follow-up answers; 0: the issue itself. */
    subjectId: number;
    state: string;
    /** Null while the job is pending or running, and for a dead one. */
    outcome: string | null;
    /** The comment written (posted or edited), when there is one. */
    url: string | null;
    /** ISO 8601: when it finished, else when it last changed. */
    at: string;
  }>;
}

/** What a job does, in the words of `autosolve jobs`. Same as the script's `jobWhat()`. */
function what(job: DashboardJobs['latest'][number]): string {
  if (job.type === 'follow-up') return job.subjectId > 0 ? `follow-up of comment ${job.subjectId}` : 'follow-up';
  return job.type;
}

/** Outcomes that wrote on GitHub stand out; a dead job is bad. Same as the script's `outcomeClass()`. */
function outcomeClass(job: DashboardJobs['latest'][number]): string {
  if (job.state === 'dead') return 'outcome bad';
  return job.outcome === 'answered' || job.outcome === 'revised' ? 'outcome ok' : 'outcome';
}

/** Only web links become hrefs. */
function webUrl(url: string | null): string | null {
  return url !== null && /^https?:\/\//i.test(url) ? url : null;
}

const TYPE_HEAD = ['Type', 'Pending', 'Running', 'Done', 'Dead'];
const LATEST_HEAD = ['Job', 'Issue', 'What', 'State', 'Outcome', 'When'];

function head(titles: readonly string[], numeric: (title: string, index: number) => boolean): string {
  return titles.map((title, i) => `<th scope="col"${numeric(title, i) ? ' class="num"' : ''}>${title}</th>`).join('');
}

/** Same as the script's `jobs()`. */
export function renderJobs(jobs: DashboardJobs | null | undefined, now: number): string {
  if (!jobs) return '';
  const types = Object.keys(jobs.byType);
  const byType =
    types.length === 0
      ? '<p class="muted">No queue jobs yet.</p>'
      : `<table id="jobs-by-type"><thead><tr>${head(TYPE_HEAD, (_, i) => i > 0)}</tr></thead><tbody>${types
          .map((type) => {
            const totals = jobs.byType[type] as Totals;
            const cells = QUEUE_JOB_STATES.map((state) => `<td class="${state === 'dead' && totals[state] > 0 ? 'num bad' : 'num'}">${count(totals[state])}</td>`).join('');
            return `<tr data-type="${escapeHtml(type)}"><th scope="row">${escapeHtml(type)}</th>${cells}</tr>`;
          })
          .join('')}</tbody></table>`;
  const rows = jobs.latest.map((job) => {
    const url = webUrl(job.url);
    const outcome = escapeHtml(job.outcome ?? '-');
    return (
      `<tr data-job="${job.id}"><th scope="row" class="num">${job.id}</th>` +
      `<td class="issue"><span class="repo">${escapeHtml(job.repository)}</span> <span class="number">#${job.number ?? '?'}</span> <span class="title">${escapeHtml(job.title)}</span></td>` +
      `<td class="what">${escapeHtml(what(job))}</td><td class="${job.state === 'dead' ? 'bad' : ''}">${escapeHtml(job.state)}</td>` +
      `<td class="${outcomeClass(job)}">${url === null ? outcome : `<a href="${escapeHtml(url)}">${outcome}</a>`}</td>` +
      `<td>${age(now - Date.parse(job.at))} ago</td></tr>`
    );
  });
  const latest = rows.length === 0 ? '' : `<table id="jobs-latest"><thead><tr>${head(LATEST_HEAD, (_, i) => i === 0)}</tr></thead><tbody>${rows.join('')}</tbody></table>`;
  return `<section class="card" id="jobs"><h2>Jobs</h2>${byType}${latest}</section>`;
}

/** The card's rules, appended to the page's stylesheet. */
export const JOBS_STYLE = `
#jobs table{margin:4px 0 8px}#jobs-by-type{width:auto}#jobs-by-type td.num,#jobs-by-type th.num{padding-left:32px}#jobs td.issue{max-width:420px;overflow:hidden;text-overflow:ellipsis}
#jobs td.outcome.ok{color:var(--ok)}#jobs td.outcome.bad{font-weight:600}
`;

/** Goes inside the dashboard's client script, which defines h(), age() and count(). Plain ES2017, no `$`. */
export const JOBS_CLIENT_SCRIPT = `
  function jobWhat(j) {
    if (j.type === 'follow-up') return j.subjectId > 0 ? 'follow-up of comment ' + j.subjectId : 'follow-up';
    return j.type;
  }
  function outcomeClass(j) {
    if (j.state === 'dead') return 'outcome bad';
    return j.outcome === 'answered' || j.outcome === 'revised' ? 'outcome ok' : 'outcome';
  }
  function jobs(d, now) {
    if (!d) return null;
    var types = Object.keys(d.byType);
    var byType = types.length === 0 ? h('p', { 'class': 'muted' }, ['No queue jobs yet.']) : h('table', { id: 'jobs-by-type' }, [
      h('thead', {}, [h('tr', {}, ['Type', 'Pending', 'Running', 'Done', 'Dead'].map(function (t, i) { return h('th', { scope: 'col', 'class': i > 0 ? 'num' : null }, [t]); }))]),
      h('tbody', {}, types.map(function (type) {
        var totals = d.byType[type];
        return h('tr', { 'data-type': type }, [h('th', { scope: 'row' }, [type])].concat(STATES.map(function (s) {
          return h('td', { 'class': s === 'dead' && totals[s] > 0 ? 'num bad' : 'num' }, [count(totals[s])]);
        })));
      }))]);
    var latest = d.latest.length === 0 ? null : h('table', { id: 'jobs-latest' }, [
      h('thead', {}, [h('tr', {}, ['Job', 'Issue', 'What', 'State', 'Outcome', 'When'].map(function (t, i) { return h('th', { scope: 'col', 'class': i === 0 ? 'num' : null }, [t]); }))]),
      h('tbody', {}, d.latest.map(function (j) {
        var url = j.url === null ? null : webUrl(j.url);
        var outcome = j.outcome === null ? '-' : j.outcome;
        return h('tr', { 'data-job': j.id }, [h('th', { scope: 'row', 'class': 'num' }, [String(j.id)]),
          h('td', { 'class': 'issue' }, [h('span', { 'class': 'repo' }, [j.repository]), ' ', h('span', { 'class': 'number' }, ['#' + (j.number === null ? '?' : j.number)]), ' ',
            h('span', { 'class': 'title' }, [j.title])]),
          h('td', { 'class': 'what' }, [jobWhat(j)]), h('td', { 'class': j.state === 'dead' ? 'bad' : '' }, [j.state]),
          h('td', { 'class': outcomeClass(j) }, [url === null ? outcome : h('a', { href: url }, [outcome])]),
          h('td', {}, [age(now - Date.parse(j.at)) + ' ago'])]);
      }))]);
    return h('section', { 'class': 'card', id: 'jobs' }, [h('h2', {}, ['Jobs']), byType, latest]);
  }
`;
