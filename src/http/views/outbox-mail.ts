/** A mail of the dev outbox (contract §10), as `/__dev/outbox/` lists it. */
import { z } from "@hono/zod-openapi";
import { toNairobiIso } from "../../lib/time";
import type { OutboxMail } from "../../mail/outbox";

export const OutboxMailSchema = z.object({
  id: z.string(),
  kind: z.string(),
  to: z.string(),
  to_email: z.string(),
  subject: z.string(),
  text: z.string(),
  html: z.string(),
  status: z.enum(["QUEUED", "SENT", "FAILED"]),
  created_at: z.string(),
  attachments: z.array(
    z.object({ name: z.string(), content_type: z.string(), size: z.number(), url: z.string() }),
  ),
});

export function toOutboxMail(
  base: string,
  { row, attachments }: OutboxMail,
): z.infer<typeof OutboxMailSchema> {
  return {
    id: row.id,
    kind: row.kind,
    to: row.toName ? `${row.toName} <${row.toEmail}>` : row.toEmail,
    to_email: row.toEmail,
    subject: row.subject,
    text: row.textBody,
    html: row.htmlBody,
    status: row.status,
    created_at: toNairobiIso(row.createdAt),
    attachments: attachments.map((a, index) => ({
      name: a.name,
      content_type: a.content_type,
      size: a.size,
      url: `${base}/__dev/outbox/${row.id}/attachments/${index}/`,
    })),
  };
}
