CREATE TABLE `ticket_revocations` (
	`ticket_hash` text PRIMARY KEY NOT NULL,
	`ticket_id` text NOT NULL,
	`event_id` text NOT NULL,
	`reason` text NOT NULL,
	`token_version` integer NOT NULL,
	`revoked_at` integer NOT NULL,
	`change_seq` integer NOT NULL,
	FOREIGN KEY (`ticket_id`) REFERENCES `tickets`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `ticket_revocations_event_seq_idx` ON `ticket_revocations` (`event_id`,`change_seq`);--> statement-breakpoint
CREATE INDEX `ticket_revocations_ticket_idx` ON `ticket_revocations` (`ticket_id`);--> statement-breakpoint
CREATE TABLE `ticket_transfers` (
	`id` text PRIMARY KEY NOT NULL,
	`ticket_id` text NOT NULL,
	`event_id` text NOT NULL,
	`from_user_id` text NOT NULL,
	`to_user_id` text NOT NULL,
	`recipient_email` text NOT NULL,
	`recipient_name` text NOT NULL,
	`from_version` integer NOT NULL,
	`to_version` integer NOT NULL,
	`transferred_at` integer NOT NULL,
	`delivery_attempts` integer DEFAULT 0 NOT NULL,
	`delivered_at` integer,
	FOREIGN KEY (`ticket_id`) REFERENCES `tickets`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`from_user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`to_user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `ticket_transfers_ticket_version_unique` ON `ticket_transfers` (`ticket_id`,`to_version`);--> statement-breakpoint
CREATE INDEX `ticket_transfers_event_idx` ON `ticket_transfers` (`event_id`,`transferred_at`);--> statement-breakpoint
CREATE INDEX `ticket_transfers_to_user_idx` ON `ticket_transfers` (`to_user_id`);--> statement-breakpoint
CREATE INDEX `ticket_transfers_ticket_idx` ON `ticket_transfers` (`ticket_id`,`transferred_at`);--> statement-breakpoint
CREATE INDEX `ticket_transfers_undelivered_idx` ON `ticket_transfers` (`delivered_at`,`delivery_attempts`,`transferred_at`);--> statement-breakpoint
ALTER TABLE `events` ADD `allow_transfers` integer DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE `tickets` ADD `transfer_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `tickets` ADD `token_version` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
-- hand-written: a cancelled ticket's token is revoked whatever cancelled it (a refund, the
-- event's cancellation), on the same change cursor the scanner sync pages by. The trigger
-- runs on the change cursor's own update (tickets_change_seq_update / _insert in
-- 0010_sync_cursor.sql), so NEW.change_seq is the number the cancellation itself took.
-- INSERT OR IGNORE: later writes to a cancelled ticket keep the first revocation.
CREATE TRIGGER `tickets_revoke_cancelled` AFTER UPDATE OF `change_seq` ON `tickets` FOR EACH ROW
WHEN NEW.`status` = 'CANCELLED' AND NEW.`change_seq` IS NOT NULL
BEGIN
  INSERT OR IGNORE INTO `ticket_revocations` (`ticket_hash`, `ticket_id`, `event_id`, `reason`, `token_version`, `revoked_at`, `change_seq`)
  VALUES (NEW.`ticket_hash`, NEW.`id`, NEW.`event_id`, 'cancelled', NEW.`token_version`, CAST(unixepoch('subsec') * 1000 AS INTEGER), NEW.`change_seq`);
END;--> statement-breakpoint
-- hand-written: tickets cancelled before this migration are revoked too (backfill).
INSERT OR IGNORE INTO `ticket_revocations` (`ticket_hash`, `ticket_id`, `event_id`, `reason`, `token_version`, `revoked_at`, `change_seq`)
SELECT `ticket_hash`, `id`, `event_id`, 'cancelled', `token_version`, `updated_at`, `change_seq`
FROM `tickets` WHERE `status` = 'CANCELLED' AND `change_seq` IS NOT NULL;
