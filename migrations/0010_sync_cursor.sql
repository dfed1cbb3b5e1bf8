DROP INDEX `tickets_event_sync_idx`;--> statement-breakpoint
ALTER TABLE `tickets` ADD `change_seq` integer;--> statement-breakpoint
-- Existing tickets get distinct, increasing numbers in insertion order.
UPDATE `tickets` SET `change_seq` = `rowid`;--> statement-breakpoint
CREATE INDEX `tickets_event_change_seq_idx` ON `tickets` (`event_id`,`change_seq`);--> statement-breakpoint
CREATE UNIQUE INDEX `tickets_change_seq_unique` ON `tickets` (`change_seq`);--> statement-breakpoint
-- The change cursor is kept by the database, not by each writer: every insert and every
-- update of a column the guest list shows takes the next number, one per row (a bulk
-- update gives each row its own). `png_key` is left out: rendering a PNG is not a change a
-- scanner needs. The inner UPDATE touches only change_seq, which is not in the column
-- list, so the update trigger never fires itself.
CREATE TRIGGER `tickets_change_seq_insert` AFTER INSERT ON `tickets` FOR EACH ROW
BEGIN
  UPDATE `tickets` SET `change_seq` = (SELECT COALESCE(MAX(`change_seq`), 0) + 1 FROM `tickets`) WHERE `id` = NEW.`id`;
END;--> statement-breakpoint
CREATE TRIGGER `tickets_change_seq_update` AFTER UPDATE OF `order_id`, `event_id`, `tier_id`, `owner_id`, `seat_index`, `attendee_name`, `attendee_email`, `qr_code_hash`, `ticket_hash`, `signing_key_id`, `status`, `checked_in_at`, `checked_in_by`, `checked_in_device`, `price_paid`, `created_at`, `updated_at` ON `tickets` FOR EACH ROW
BEGIN
  UPDATE `tickets` SET `change_seq` = (SELECT COALESCE(MAX(`change_seq`), 0) + 1 FROM `tickets`) WHERE `id` = NEW.`id`;
END;
