/** Types for scripts/seed-data.mjs, for the tests that seed the demo data into D1. */
export const DEMO_PASSWORD: string;
export const DEMO_INVITATION_CODE: string;
export const DEMO_STORE_SLUG: string;
export const DEMO_PAYOUT_PHONE: string;
export const DEMO_ACCOUNTS: ReadonlyArray<{
  key: string;
  username: string;
  email: string;
  role: string;
  firstName: string;
  lastName: string;
  organizer?: string;
}>;
export function buildSeedSql(options?: {
  now?: number;
  password?: string;
  images?: { posters?: Record<string, string>; storeLogo?: string };
  ticketSigningKey?: string;
  feeBasisPoints?: number;
  holdDays?: number;
}): string;
export function demoWalletSummary(options?: { now?: number; feeBasisPoints?: number; holdDays?: number }): {
  sales: number;
  fees: number;
  payouts: number;
  available: number;
};
export function hashPassword(password: string): string;
export function sqlValue(value: unknown): string;
