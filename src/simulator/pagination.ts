/** GitHub's offset pagination: per_page/page parameters and the RFC 5988 Link header. */

export interface PageRequest {
  /** The URL of the listing without query, e.g. 'http://127.0.0.1:4000/api/v3/repos/a/b/issues'. */
  url: string;
  /** The request's own query, every parameter of which the links preserve except page. */
  search: URLSearchParams;
}

export interface Page<T> {
  items: T[];
  /** The Link header value, absent when everything fits on one page. */
  link: string | undefined;
}

const DEFAULT_PER_PAGE = 30;
const MAX_PER_PAGE = 100;

function positiveInt(value: string | null, fallback: number): number {
  if (value === null || !/^\d+$/.test(value.trim())) return fallback;
  const parsed = Number.parseInt(value, 10);
  return parsed >= 1 ? parsed : fallback;
}

/** Slices the already sorted list at request time, so a list that changed between requests shifts pages. */
export function paginate<T>(request: PageRequest, all: readonly T[]): Page<T> {
  const perPage = Math.min(positiveInt(request.search.get('per_page'), DEFAULT_PER_PAGE), MAX_PER_PAGE);
  const page = positiveInt(request.search.get('page'), 1);
  const lastPage = Math.max(1, Math.ceil(all.length / perPage));
  const items = all.slice((page - 1) * perPage, page * perPage);

  const linkTo = (target: number, rel: string): string => {
    const search = new URLSearchParams(request.search);
    search.set('page', String(target));
    return `<${request.url}?${search.toString()}>; rel="${rel}"`;
  };
  // GitHub's order: prev, next, last, first.
  const links: string[] = [];
  if (page > 1) links.push(linkTo(Math.min(page - 1, lastPage), 'prev'));
  if (page < lastPage) links.push(linkTo(page + 1, 'next'), linkTo(lastPage, 'last'));
  if (page > 1) links.push(linkTo(1, 'first'));
  return { items, link: links.length > 0 ? links.join(', ') : undefined };
}
