/** Putting refunds on the delivery queue: B2C requests are sent only by its consumer (§13.3 rule 6). */
import type { DeliveryJob } from "../../delivery/jobs";

/** Daraja throttles bursts: a mass refund (event cancelled) is spread to at most 5 a second. */
const PER_SECOND = 5;
/** Queues take at most 100 messages per sendBatch. */
const CHUNK = 100;

export async function queueRefundSends(queue: Queue<DeliveryJob>, refundIds: string[]): Promise<void> {
  const messages = refundIds.map((refundId, i) => ({
    body: { type: "refund", refundId } satisfies DeliveryJob,
    delaySeconds: Math.floor(i / PER_SECOND),
  }));
  for (let i = 0; i < messages.length; i += CHUNK) await queue.sendBatch(messages.slice(i, i + CHUNK));
}

/** A retry after a transient refusal, due `delaySeconds` from now. */
export async function queueRefundRetry(
  queue: Queue<DeliveryJob>,
  refundId: string,
  retryOf: string,
  delaySeconds: number,
): Promise<void> {
  await queue.send({ type: "refund", refundId, retryOf }, { delaySeconds: Math.min(43_200, delaySeconds) });
}

/** A refund send that found this second's B2C requests taken (§13.3 rule 3): ask again later. */
export async function queueRefundSendLater(
  queue: Queue<DeliveryJob>,
  refundId: string,
  delaySeconds: number,
): Promise<void> {
  await queue.send({ type: "refund", refundId }, { delaySeconds: Math.min(43_200, delaySeconds) });
}
