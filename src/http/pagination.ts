/**
 * DRF PageNumberPagination: `{"count", "next", "previous", "results"}` with absolute
 * next/previous URLs; `?page=` is 1-based, `?page_size=` defaults to 20 (max 100). A page
 * that is not a positive number, or past the end, is 404 `{"detail": "Invalid page."}`.
 */
import { z } from "@hono/zod-openapi";
import { DomainError } from "../lib/errors";

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export const PaginationQuery = z.object({
  page: z.string().max(20).optional().openapi({ description: "1-based page number" }),
  page_size: z.string().max(20).optional().openapi({ description: "Items per page (default 20, max 100)" }),
});

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({
    count: z.number().int(),
    next: z.string().nullable(),
    previous: z.string().nullable(),
    results: z.array(item),
  });
}

export interface PageRequest {
  page: number;
  pageSize: number;
  limit: number;
  offset: number;
}

const invalidPage = () => DomainError.notFound("Invalid page.");

export function parsePageRequest(query: {
  page?: string | undefined;
  page_size?: string | undefined;
}): PageRequest {
  let page = 1;
  if (query.page !== undefined && query.page !== "last") {
    if (!/^\d{1,9}$/.test(query.page)) throw invalidPage();
    page = Number(query.page);
    if (page < 1) throw invalidPage();
  }
  let pageSize = DEFAULT_PAGE_SIZE;
  if (query.page_size !== undefined && /^\d{1,6}$/.test(query.page_size) && Number(query.page_size) > 0) {
    pageSize = Math.min(MAX_PAGE_SIZE, Number(query.page_size));
  }
  return { page, pageSize, limit: pageSize, offset: (page - 1) * pageSize };
}

/**
 * What a handler's context offers for building links: the request (path and query) and the
 * configured public origin. Links never use the request's own origin: the `Host` header is
 * chosen by the client, and a forged one would put an attacker's host into `next`/`previous`.
 */
export interface LinkContext {
  req: { url: string };
  var: { config: { publicBaseUrl: string } };
}

/** The request's path and query on `PUBLIC_BASE_URL`'s origin (contract §9, issue #11 item 13). */
export function publicRequestUrl(c: LinkContext): string {
  const request = new URL(c.req.url);
  const base = new URL(c.var.config.publicBaseUrl);
  request.protocol = base.protocol;
  request.host = base.host;
  return request.toString();
}

function pageUrl(requestUrl: string, page: number): string {
  const url = new URL(requestUrl);
  if (page === 1) url.searchParams.delete("page");
  else url.searchParams.set("page", String(page));
  return url.toString();
}

/** Assemble a page from a known total and this page's rows; links are on `PUBLIC_BASE_URL`. */
export function buildPage<T>(c: LinkContext, request: PageRequest, count: number, results: T[]): Page<T> {
  const requestUrl = publicRequestUrl(c);
  const lastPage = Math.max(1, Math.ceil(count / request.pageSize));
  if (request.page > lastPage) throw invalidPage();
  return {
    count,
    next: request.page < lastPage ? pageUrl(requestUrl, request.page + 1) : null,
    previous: request.page > 1 ? pageUrl(requestUrl, request.page - 1) : null,
    results,
  };
}

/** Count + page query, run in parallel (two reads; callers with a window count can use buildPage). */
export async function pageOf<Row, T>(
  c: LinkContext,
  query: { page?: string | undefined; page_size?: string | undefined },
  source: {
    count: () => Promise<number>;
    rows: (limit: number, offset: number) => Promise<Row[]>;
    map: (row: Row) => T;
  },
): Promise<Page<T>> {
  const request = parsePageRequest(query);
  const [count, rows] = await Promise.all([source.count(), source.rows(request.limit, request.offset)]);
  return buildPage(c, request, count, rows.map(source.map));
}
