/**
 * The run's figures and checks from what the phases measured and what was read back: counts,
 * latencies, ratios against health, the split of accepted purchases by the fake Daraja's
 * clock, and the seat and consistency checks (0 oversold).
 */
import { stats } from "../load.mjs";
import { acceptedOf } from "./sale.mjs";

export function summarize({ opts, sale, callbacks, verify, health, back, daraja }) {
  const accepted = acceptedOf(sale);
  const soldOut = sale.results.filter((r) => r.kind === "soldOut");
  const errors = sale.results.filter((r) => r.kind === "error");
  const lastAcceptedAt = Math.max(...accepted.map((r) => r.endedAt));
  const saleWindow = accepted.length ? (lastAcceptedAt - sale.startedAt) / 1000 : Number.NaN;
  const ticketsViaVerify = verify.results.reduce((sum, r) => sum + r.tickets.length, 0);
  const completedViaVerify = verify.results.filter((r) => r.json?.status === "COMPLETED").length;
  const ticketsInD1 = Number(back.tickets?.tickets ?? Number.NaN);
  const ticketsIssued = Math.max(ticketsViaVerify, Number.isFinite(ticketsInD1) ? ticketsInD1 : 0);
  const committedByStatus = Object.fromEntries(back.orders.map((o) => [o.status, Number(o.seats)]));
  const ordersSeats = ["PENDING", "COMPLETED", "PAID_UNFULFILLED"].reduce(
    (sum, s) => sum + (committedByStatus[s] ?? 0),
    0,
  );
  // One row per object holding the tier's seats: one, or each of its shards (summed).
  const saleRows = back.objects.rows?.filter((r) => r.tier_id === sale.tierId) ?? [];
  const saleObject = saleRows.length
    ? saleRows.reduce(
        (sum, r) => {
          for (const key of [
            "allocation",
            "sold",
            "version",
            "holds",
            "held",
            "confirmed",
            "confirmed_seats",
          ]) {
            sum[key] += Number(r[key]);
          }
          return sum;
        },
        {
          objects: saleRows.length,
          allocation: 0,
          sold: 0,
          version: 0,
          holds: 0,
          held: 0,
          confirmed: 0,
          confirmed_seats: 0,
        },
      )
    : undefined;
  const pushesForSale = daraja.state.pushes.filter((p) => p.phoneNumber.startsWith("254711"));
  const splitOf = (pick) =>
    stats(
      accepted
        .map((r) => {
          const push = daraja.state.pushesByPhone.get(r.buyer.normalizedPhone);
          return push ? pick(r, push) : undefined;
        })
        .filter((v) => v !== undefined),
    );
  const split = {
    before: splitOf((r, p) => p.receivedAt - r.startedAt),
    daraja: splitOf((_r, p) => p.answeredAt - p.receivedAt),
    after: splitOf((r, p) => r.endedAt - p.answeredAt),
  };
  const acc = stats(accepted.map((r) => r.ms));
  const so = stats(soldOut.map((r) => r.ms));
  const cb = stats(callbacks.results.filter((r) => r.ms).map((r) => r.ms));
  const purchasesPerSecond = accepted.length / sale.seconds;
  const throughputRatio = purchasesPerSecond / health.rps;
  const latencyRatio = so.p50 / health.p50;
  const oversold = Math.max(0, ticketsIssued - opts.seats);
  const seatChecks = [
    ["accepted ≤ seats (every 202 holds a seat for HOLD_SECONDS)", accepted.length <= opts.seats],
    ["D1 tiers: sold + held ≤ allocated", back.tier.sold + back.tier.held <= back.tier.allocated],
    ["D1 orders: seats of PENDING + COMPLETED + PAID_UNFULFILLED ≤ seats", ordersSeats <= opts.seats],
    ["tickets issued ≤ seats", ticketsIssued <= opts.seats],
    [
      "Durable Object: sold + held ≤ allocation",
      saleObject ? saleObject.sold + saleObject.held <= saleObject.allocation : undefined,
    ],
    ...(saleRows.length > 1
      ? [
          [
            `every one of the ${saleRows.length} shard objects: sold + held ≤ its allocation; allocations sum to the seats`,
            saleRows.every((r) => Number(r.sold) + Number(r.held) <= Number(r.allocation)) &&
              saleObject.allocation === opts.seats,
          ],
        ]
      : []),
  ];
  const consistencyChecks = [
    [
      `STK pushes for the sale (${pushesForSale.length}) = accepted orders (an extra push means a request failed after its push went out)`,
      pushesForSale.length === accepted.length,
    ],
    [
      `sold-out buyers wrote nothing to D1 (guest users ${back.users?.sale_guests} = accepted buyers)`,
      Number(back.users?.sale_guests) === accepted.length,
    ],
    ["every COMPLETED order has exactly its quantity of tickets", Number(back.tickets?.mismatched) === 0],
    [
      `no PENDING order without a CheckoutRequestID (${back.pendingWithoutPush} found: its payment could not be matched)`,
      Number(back.pendingWithoutPush) === 0,
    ],
  ];
  return {
    accepted,
    soldOut,
    errors,
    saleWindow,
    ticketsViaVerify,
    completedViaVerify,
    ticketsInD1,
    ticketsIssued,
    oversold,
    ordersSeats,
    saleObject,
    split,
    acc,
    so,
    cb,
    purchasesPerSecond,
    throughputRatio,
    latencyRatio,
    seatChecks,
    consistencyChecks,
    callbackProblems: callbacks.results.filter((r) => r.problem),
  };
}
