/** A gate staff (SCANNER) account as the organizer sees it (contract §6). */
import { z } from "@hono/zod-openapi";
import type { User } from "../../db/schema";
import { publicEmail } from "../../services/team";

export const ScannerSchema = z
  .object({
    id: z.string(),
    username: z.string(),
    email: z.string(),
    role: z.literal("SCANNER"),
    is_active: z.boolean(),
  })
  .openapi("Scanner");

export const CreatedScannerSchema = ScannerSchema.omit({ is_active: true }).openapi("CreatedScanner");

/** A placeholder address (a door account without email) is shown as "". */
export function toScanner(
  row: Pick<User, "id" | "username" | "email" | "isActive">,
): z.infer<typeof ScannerSchema> {
  return {
    id: row.id,
    username: row.username,
    email: publicEmail(row.email),
    role: "SCANNER",
    is_active: row.isActive,
  };
}
