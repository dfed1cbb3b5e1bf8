/**
 * Gate staff (contract §6): an organizer's SCANNER accounts. ORGANIZER only; answered in the
 * original's `{"error": ...}` style (the web client shows `error`).
 */
import { z } from "@hono/zod-openapi";
import { DomainError } from "../../lib/errors";
import { createScanner, listScanners, publicEmail } from "../../services/team";
import { emptyToUndefined, Username } from "../fields";
import { buildPage, PaginationQuery, pageSchema, parsePageRequest } from "../pagination";
import { type Api, defineRoute } from "../route";

const TAGS = ["Organizer"];
const ORGANIZER = ["ORGANIZER"] as const;

const CreateScannerBody = z
  .object({
    username: Username,
    email: z.preprocess(emptyToUndefined, z.string().trim().max(254).pipe(z.email()).optional()),
    password: z.string().min(1).max(4096),
  })
  .openapi("CreateScannerRequest");

const ScannerSchema = z
  .object({
    id: z.string(),
    username: z.string(),
    email: z.string(),
    role: z.literal("SCANNER"),
    is_active: z.boolean(),
  })
  .openapi("Scanner");

const CreatedScannerSchema = ScannerSchema.omit({ is_active: true }).openapi("CreatedScanner");

export function registerTeamRoutes(app: Api): void {
  defineRoute(
    app,
    {
      method: "get",
      path: "/api/organizer/team/scanners/",
      tags: TAGS,
      summary: "The organizer's gate-staff accounts",
      roles: ORGANIZER,
      errorDialect: "legacy",
      query: PaginationQuery,
      responses: { 200: { description: "A page of scanners", schema: pageSchema(ScannerSchema) } },
    },
    async (c, { query }) => {
      const organizer = await c.var.auth.requireUser();
      const page = parsePageRequest(query);
      const { total, rows } = await listScanners(c.var.db, organizer.id, page);
      if (rows.length === 0 && page.page > 1) throw DomainError.notFound("Invalid page.");
      return c.json(
        buildPage(
          c.req.url,
          page,
          total,
          rows.map((row) => ({
            id: row.id,
            username: row.username,
            email: publicEmail(row.email),
            role: "SCANNER" as const,
            is_active: row.isActive,
          })),
        ),
        200,
      );
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/organizer/team/scanners/create/",
      tags: TAGS,
      summary: "Create a gate-staff (SCANNER) account that may scan only this organizer's events",
      roles: ORGANIZER,
      errorDialect: "legacy",
      body: CreateScannerBody,
      responses: {
        201: { description: "Created", schema: CreatedScannerSchema },
        400: { description: "Username or email taken, weak password, invalid field" },
      },
    },
    async (c, { body }) => {
      const organizer = await c.var.auth.requireUser();
      const scanner = await createScanner(c.var.db, organizer, body);
      return c.json(
        {
          id: scanner.id,
          username: scanner.username,
          email: publicEmail(scanner.email),
          role: "SCANNER" as const,
        },
        201,
      );
    },
  );
}
