/**
 * Scanning (contract §7): `POST /api/scanner/verify/` at a gate with network, and
 * `POST /api/organizer/events/{id}/checkin/` for the scans a device made offline. Both are
 * open to ORGANIZER and SCANNER accounts, each limited to the organizer's own events.
 */
import { z } from "@hono/zod-openapi";
import { DomainError } from "../../lib/errors";
import { parseDateTime, toNairobiIso } from "../../lib/time";
import { loadGateEvent } from "../../services/attendees";
import {
  type BatchScanResult,
  checkInBatch,
  MAX_SCANS_PER_UPLOAD,
  type MalformedScan,
  type OfflineScan,
  verifyAndCheckIn,
} from "../../services/check-in";
import { emptyToUndefined } from "../fields";
import { type Api, defineRoute } from "../route";
import { issuesToFieldErrors } from "../validation";

const GATE = ["ORGANIZER", "SCANNER"] as const;

const VerifyBody = z
  .object({
    qr_hash: z.string().trim().min(1).max(4096).openapi({ description: "What the QR code holds" }),
    device_id: z.preprocess(emptyToUndefined, z.string().trim().max(100).optional()),
    event_id: z.preprocess(
      emptyToUndefined,
      z
        .string()
        .uuid()
        .optional()
        .openapi({ description: "The event this gate is working: a ticket for another one is refused" }),
    ),
  })
  .openapi("ScannerVerifyRequest");

export const ScannerVerifyResponseSchema = z
  .object({
    status: z.literal("VALID"),
    attendee_name: z.string(),
    tier_name: z.string(),
    event: z.string(),
    checked_in_at: z.string(),
  })
  .openapi("ScannerVerifyResponse");

/** Scan times from devices: before this is a broken clock, not a scan. */
const EARLIEST_SCAN_MS = Date.UTC(2020, 0, 1);
const MAX_CLOCK_AHEAD_MS = 24 * 60 * 60 * 1000;

const ScannedAt = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = typeof value === "number" ? (Number.isSafeInteger(value) ? value : null) : parseDateTime(value);
  if (ms === null) {
    ctx.addIssue({
      code: "custom",
      message:
        "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
    });
    return z.NEVER;
  }
  if (ms < EARLIEST_SCAN_MS || ms > Date.now() + MAX_CLOCK_AHEAD_MS) {
    ctx.addIssue({ code: "custom", message: "The device's clock is wrong: this time is out of range." });
    return z.NEVER;
  }
  return ms;
});

const ScanEntry = z.object({
  qr_hash: z.string().trim().min(1).max(4096),
  scanned_at: ScannedAt,
  device_id: z.string().trim().min(1).max(100),
});

const BatchBody = z
  .object({
    scans: z.array(
      z.unknown().openapi({
        type: "object",
        description:
          "`{qr_hash, scanned_at, device_id}`; `scanned_at` is ISO 8601 (any offset) or epoch milliseconds. " +
          "A malformed entry is answered `invalid` on its own; the others are still applied.",
      }),
    ),
  })
  .openapi("OfflineCheckinRequest");

const OUTCOMES = ["ok", "already_checked_in", "invalid", "wrong_event", "cancelled", "revoked"] as const;

export const OfflineScanResultSchema = z
  .object({
    index: z.number().int(),
    result: z.enum(OUTCOMES),
    reason: z.enum(["malformed", "not_found", "transferred", "cancelled"]).optional().openapi({
      description:
        "`invalid`: `malformed` or `not_found`. `revoked`: `transferred` (the ticket has a newer token) or `cancelled`",
    }),
    revoked_at: z.string().optional().openapi({ description: "`revoked`: when the token was revoked" }),
    errors: z.record(z.string(), z.array(z.string())).optional(),
    device_id: z.string().optional(),
    scanned_at: z.string().optional(),
    ticket_hash: z.string().optional(),
    attendee_name: z.string().optional(),
    tier_name: z.string().optional(),
    checked_in_at: z.string().nullable().optional(),
    checked_in_device: z.string().nullable().optional(),
  })
  .openapi("OfflineScanResult");

export const OfflineCheckinResponseSchema = z
  .object({
    results: z.array(OfflineScanResultSchema),
    counts: z.record(z.enum(OUTCOMES), z.number().int()),
  })
  .openapi("OfflineCheckinResponse");

function toScanResult(result: BatchScanResult): z.infer<typeof OfflineScanResultSchema> {
  const out: z.infer<typeof OfflineScanResultSchema> = { index: result.index, result: result.outcome };
  if (result.reason) out.reason = result.reason;
  if (result.revokedAt !== undefined) out.revoked_at = toNairobiIso(result.revokedAt);
  if (result.errors) out.errors = result.errors;
  if (result.scan) {
    out.device_id = result.scan.deviceId;
    out.scanned_at = toNairobiIso(result.scan.scannedAt);
  }
  if (result.ticket) {
    out.ticket_hash = result.ticket.ticketHash;
    out.attendee_name = result.ticket.attendeeName;
    out.tier_name = result.ticket.tierName;
    // For `ok` this scan's own check-in; otherwise the first one, which this scan lost to.
    out.checked_in_at = toNairobiIso(result.ticket.checkedInAt);
    out.checked_in_device = result.ticket.checkedInDevice || null;
  }
  return out;
}

export function registerScannerRoutes(app: Api): void {
  defineRoute(
    app,
    {
      method: "post",
      path: "/api/scanner/verify/",
      tags: ["Scanner"],
      summary: "Verify a scanned ticket code and check the ticket in",
      description:
        "The code's signature is checked first (a forged or altered code is 'Ticket Not Found'), then " +
        "the ticket. Of two simultaneous scans of one ticket exactly one is VALID; the other is 409. A validly " +
        "signed code that is no longer its ticket's token (transferred) is 409 `TICKET REVOKED`, after the " +
        "event-ownership 403 and before the ticket's status.",
      roles: GATE,
      errorDialect: "legacy",
      body: VerifyBody,
      responses: {
        200: { description: "Checked in", schema: ScannerVerifyResponseSchema },
        400: { description: "No code sent" },
        403: { description: "Another organizer's ticket (or another event than `event_id`)" },
        404: { description: "Forged, altered or unknown code" },
        409: {
          description:
            "Already checked in (with the first scan's time), cancelled, or `TICKET REVOKED` (code `revoked`, " +
            "with `reason` and `revoked_at`): a token superseded by a transfer",
        },
      },
    },
    async (c, { body }) => {
      const scanner = await c.var.auth.requireUser();
      const admitted = await verifyAndCheckIn(c.var.services, scanner, {
        qrHash: body.qr_hash,
        deviceId: body.device_id ?? "",
        eventId: body.event_id,
      });
      return c.json(
        {
          status: "VALID" as const,
          attendee_name: admitted.attendeeName,
          tier_name: admitted.tierName,
          event: admitted.eventTitle,
          checked_in_at: toNairobiIso(admitted.checkedInAt),
        },
        200,
      );
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/organizer/events/{id}/checkin/",
      tags: ["Scanner"],
      summary: "Upload scans made offline; each gets its own result",
      description:
        `Up to ${MAX_SCANS_PER_UPLOAD} scans. Results, in the order sent: \`ok\` (this scan admitted the ` +
        "guest), `already_checked_in` (another scan did, first: its time and device), `invalid` (malformed, " +
        "forged or unknown), `wrong_event`, `cancelled`, `revoked` (a token superseded by a transfer, whatever " +
        "its `scanned_at`; the new holder is not named). The earliest scan of a ticket wins. Sending the same " +
        "batch again changes nothing.",
      roles: GATE,
      params: z.object({ id: z.string().uuid() }),
      body: BatchBody,
      allowForm: false,
      maxBodyBytes: 4 * 1024 * 1024,
      responses: {
        200: { description: "One result per scan", schema: OfflineCheckinResponseSchema },
        400: { description: "No `scans` list, or too many" },
        404: { description: "Not your event, or unknown" },
      },
    },
    async (c, { params, body }) => {
      const uploader = await c.var.auth.requireUser();
      const event = await loadGateEvent(c.var.db, uploader, params.id);
      if (body.scans.length > MAX_SCANS_PER_UPLOAD) {
        throw DomainError.field(
          "scans",
          `Ensure this field has no more than ${MAX_SCANS_PER_UPLOAD} elements.`,
        );
      }
      const entries: Array<OfflineScan | MalformedScan> = body.scans.map((raw, index) => {
        const parsed = ScanEntry.safeParse(raw);
        if (!parsed.success) return { index, errors: issuesToFieldErrors(parsed.error.issues) };
        return {
          index,
          qrHash: parsed.data.qr_hash,
          scannedAt: parsed.data.scanned_at,
          deviceId: parsed.data.device_id,
        };
      });
      const results = (await checkInBatch(c.var.services, uploader, event, entries)).map(toScanResult);
      const counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<
        (typeof OUTCOMES)[number],
        number
      >;
      for (const r of results) counts[r.result]++;
      return c.json({ results, counts }, 200);
    },
  );
}
