/** The pure pricing of §11.3 / §12.3: per-seat discounts, rounding, most expensive first. */
import { describe, expect, it } from "vitest";
import {
  eligibleSeats,
  type OrderLineInput,
  type PromoTerms,
  priceOrder,
  seatDiscount,
} from "../src/lib/order-pricing";

const percent = (value: number, tierIds: string[] = []): PromoTerms => ({
  discountType: "PERCENT",
  value,
  tierIds,
});
const fixed = (value: number, tierIds: string[] = []): PromoTerms => ({
  discountType: "FIXED",
  value,
  tierIds,
});
const line = (tierId: string, unitPrice: number, quantity: number): OrderLineInput => ({
  tierId,
  tierName: tierId.toUpperCase(),
  unitPrice,
  quantity,
});

describe("seatDiscount", () => {
  it("PERCENT rounds down to whole shillings", () => {
    expect(seatDiscount(1500, percent(20))).toBe(300);
    expect(seatDiscount(999, percent(15))).toBe(149); // 149.85
    expect(seatDiscount(1, percent(99))).toBe(0); // 0.99
    expect(seatDiscount(333, percent(33))).toBe(109); // 109.89
    expect(seatDiscount(5000, percent(100))).toBe(5000);
  });

  it("FIXED never goes past the seat's price, and free seats get nothing", () => {
    expect(seatDiscount(1500, fixed(200))).toBe(200);
    expect(seatDiscount(150, fixed(200))).toBe(150);
    expect(seatDiscount(0, fixed(200))).toBe(0);
    expect(seatDiscount(0, percent(50))).toBe(0);
  });
});

describe("priceOrder", () => {
  it("reproduces the contract's example (§11.5)", () => {
    const lines = [line("vip", 5000, 1), line("regular", 1500, 2)];
    const terms = percent(20);
    expect(eligibleSeats(lines, terms)).toBe(3);
    const priced = priceOrder(lines, terms, 3);
    expect(
      priced.lines.map(({ tierId, quantity, unitPrice, discount, lineTotal }) => ({
        tierId,
        quantity,
        unitPrice,
        discount,
        lineTotal,
      })),
    ).toEqual([
      { tierId: "vip", quantity: 1, unitPrice: 5000, discount: 1000, lineTotal: 4000 },
      { tierId: "regular", quantity: 2, unitPrice: 1500, discount: 600, lineTotal: 2400 },
    ]);
    expect(priced).toMatchObject({ subtotal: 8000, discount: 1600, amount: 6400, discountedSeats: 3 });
  });

  it("discounts the most expensive seats first when only k uses were granted", () => {
    const lines = [line("regular", 1500, 3), line("vip", 5000, 2)];
    const priced = priceOrder(lines, fixed(1000), 3);
    expect(priced.lines.map((l) => [l.tierId, l.discountedSeats, l.discount])).toEqual([
      ["regular", 1, 1000],
      ["vip", 2, 2000],
    ]);
    expect(priced.amount).toBe(1500 * 3 + 5000 * 2 - 3000);
  });

  it("breaks ties between equal prices in items order", () => {
    const lines = [line("a", 1000, 2), line("b", 1000, 2)];
    const priced = priceOrder(lines, percent(10), 3);
    expect(priced.lines.map((l) => l.discountedSeats)).toEqual([2, 1]);
    expect(priced.discount).toBe(300);
  });

  it("covers only the code's tiers and skips free seats", () => {
    const lines = [line("free", 0, 2), line("regular", 1500, 1), line("vip", 5000, 1)];
    const terms = percent(50, ["free", "regular"]);
    expect(eligibleSeats(lines, terms)).toBe(1);
    const priced = priceOrder(lines, terms, 5);
    expect(priced.lines.map((l) => l.discount)).toEqual([0, 750, 0]);
    expect(priced).toMatchObject({ subtotal: 6500, discount: 750, amount: 5750, discountedSeats: 1 });
  });

  it("a 100 % code makes the order free; amount is never below 0", () => {
    const priced = priceOrder([line("regular", 1500, 2)], percent(100), 2);
    expect(priced).toMatchObject({ subtotal: 3000, discount: 3000, amount: 0 });
    const big = priceOrder([line("regular", 100, 1)], fixed(1_000_000), 1);
    expect(big).toMatchObject({ discount: 100, amount: 0 });
  });

  it("without a code, or with k = 0, charges full price", () => {
    const lines = [line("regular", 1500, 2)];
    expect(priceOrder(lines, null, 2)).toMatchObject({ subtotal: 3000, discount: 0, amount: 3000 });
    expect(priceOrder(lines, percent(20), 0)).toMatchObject({
      discount: 0,
      amount: 3000,
      discountedSeats: 0,
    });
  });
});
