/**
 * Gate staff (contract §6): an organizer's SCANNER accounts. ORGANIZER only; answered in the
 * original's `{"error": ...}` style (the web client shows `error`).
 */
import { z } from "@hono/zod-openapi";
import { createScanner, listScanners } from "../../services/team";
import { emptyToUndefined, Username } from "../fields";
import { buildPage, PaginationQuery, pageSchema, parsePageRequest } from "../pagination";
import { type Api, defineRoute } from "../route";
import { CreatedScannerSchema, ScannerSchema, toScanner } from "../views/scanner-account";

const TAGS = ["Organizer"];
const ORGANIZER = ["ORGANIZER"] as const;

const CreateScannerBody = z
  .object({
    username: Username,
    email: z.preprocess(emptyToUndefined, z.string().trim().max(254).pipe(z.email()).optional()),
    password: z.string().min(1).max(4096),
  })
  .openapi("CreateScannerRequest");

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
      // Past the last page the window count is 0, so buildPage answers "Invalid page.".
      const { total, rows } = await listScanners(c.var.services, organizer.id, page);
      return c.json(buildPage(c, page, total, rows.map(toScanner)), 200);
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
      const scanner = await createScanner(c.var.services, organizer, body);
      const { is_active: _, ...created } = toScanner(scanner);
      const response: z.infer<typeof CreatedScannerSchema> = created;
      return c.json(response, 201);
    },
  );
}
