CREATE TABLE `ledger_entries` (
	`id` text PRIMARY KEY NOT NULL,
	`organizer_id` text NOT NULL,
	`type` text NOT NULL,
	`amount` integer NOT NULL,
	`status` text DEFAULT 'COMPLETED' NOT NULL,
	`reference` text NOT NULL,
	`dedupe_key` text NOT NULL,
	`event_id` text,
	`order_id` text,
	`refund_id` text,
	`payout_id` text,
	`available_at` integer,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `ledger_entries_dedupe_unique` ON `ledger_entries` (`dedupe_key`);--> statement-breakpoint
CREATE INDEX `ledger_entries_organizer_created_idx` ON `ledger_entries` (`organizer_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `ledger_entries_organizer_event_idx` ON `ledger_entries` (`organizer_id`,`event_id`);--> statement-breakpoint
CREATE TABLE `payouts` (
	`id` text PRIMARY KEY NOT NULL,
	`organizer_id` text NOT NULL,
	`reference` text NOT NULL,
	`amount` integer NOT NULL,
	`phone` text NOT NULL,
	`status` text DEFAULT 'PENDING' NOT NULL,
	`b2c_request_id` text,
	`mpesa_receipt` text,
	`failure_code` text,
	`failure_reason` text,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`sent_at` integer,
	`completed_at` integer,
	`failed_at` integer,
	`updated_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `payouts_reference_unique` ON `payouts` (`reference`);--> statement-breakpoint
CREATE INDEX `payouts_organizer_created_idx` ON `payouts` (`organizer_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `payouts_status_idx` ON `payouts` (`status`,`created_at`);--> statement-breakpoint
ALTER TABLE `users` ADD `wallet_id` text;--> statement-breakpoint
ALTER TABLE `users` ADD `wallet_activated_at` integer;--> statement-breakpoint
ALTER TABLE `users` ADD `is_kyc_verified` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `payout_phone` text;--> statement-breakpoint
ALTER TABLE `users` ADD `is_wallet_frozen` integer DEFAULT false NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `users_wallet_id_unique` ON `users` (`wallet_id`);--> statement-breakpoint
-- hand-written: the ledger is append-only. An entry is never deleted and never changes, except
-- that a PAYOUT leaves PENDING once (→ COMPLETED, or FAILED beside its PAYOUT_REVERSED entry).
CREATE TRIGGER `ledger_entries_no_delete` BEFORE DELETE ON `ledger_entries` FOR EACH ROW
BEGIN
  SELECT RAISE(ABORT, 'ledger entries are immutable');
END;--> statement-breakpoint
CREATE TRIGGER `ledger_entries_immutable` BEFORE UPDATE ON `ledger_entries` FOR EACH ROW
WHEN NEW.`id` IS NOT OLD.`id` OR NEW.`organizer_id` IS NOT OLD.`organizer_id` OR NEW.`type` IS NOT OLD.`type`
  OR NEW.`amount` IS NOT OLD.`amount` OR NEW.`reference` IS NOT OLD.`reference`
  OR NEW.`dedupe_key` IS NOT OLD.`dedupe_key` OR NEW.`event_id` IS NOT OLD.`event_id`
  OR NEW.`order_id` IS NOT OLD.`order_id` OR NEW.`refund_id` IS NOT OLD.`refund_id`
  OR NEW.`payout_id` IS NOT OLD.`payout_id` OR NEW.`available_at` IS NOT OLD.`available_at`
  OR NEW.`created_at` IS NOT OLD.`created_at`
  OR (NEW.`status` IS NOT OLD.`status` AND NOT (OLD.`type` = 'PAYOUT' AND OLD.`status` = 'PENDING' AND NEW.`status` IN ('COMPLETED', 'FAILED')))
BEGIN
  SELECT RAISE(ABORT, 'ledger entries are immutable');
END;
--> statement-breakpoint
-- hand-written: backfill. Orders paid before the ledger existed become SALE entries (no FEE:
-- PLATFORM_FEE_PERCENT applies from now on), and their completed refunds REFUND entries, so
-- every organizer's balance starts from what they were paid. Available 2 days (the default
-- PAYOUT_HOLD_DAYS) after the event's end.
INSERT INTO `ledger_entries` (`id`, `organizer_id`, `type`, `amount`, `status`, `reference`, `dedupe_key`, `event_id`, `order_id`, `available_at`, `created_at`)
SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-a' || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
  e.`organizer_id`, 'SALE', o.`amount`, 'COMPLETED', o.`reference`, 'sale:' || o.`id`, o.`event_id`, o.`id`,
  e.`end_datetime` + 172800000, COALESCE(o.`paid_at`, o.`created_at`)
FROM `orders` o JOIN `events` e ON e.`id` = o.`event_id`
WHERE o.`status` = 'COMPLETED' AND o.`amount` > 0;--> statement-breakpoint
INSERT INTO `ledger_entries` (`id`, `organizer_id`, `type`, `amount`, `status`, `reference`, `dedupe_key`, `event_id`, `order_id`, `refund_id`, `available_at`, `created_at`)
SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-a' || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
  s.`organizer_id`, 'REFUND', -r.`amount`, 'COMPLETED', r.`id`, 'refund:' || r.`id`, s.`event_id`, r.`order_id`, r.`id`,
  s.`available_at`, COALESCE(r.`completed_at`, r.`created_at`)
FROM `refunds` r JOIN `ledger_entries` s ON s.`dedupe_key` = 'sale:' || r.`order_id`
WHERE r.`status` = 'COMPLETED';
