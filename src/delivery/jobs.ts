/** Messages on the delivery queue. Each job is idempotent: redelivery must be harmless. */
export type DeliveryJob = { type: "mail"; mailId: string };

export function isDeliveryJob(value: unknown): value is DeliveryJob {
  if (typeof value !== "object" || value === null) return false;
  const job = value as Record<string, unknown>;
  return job.type === "mail" && typeof job.mailId === "string" && job.mailId.length > 0;
}
