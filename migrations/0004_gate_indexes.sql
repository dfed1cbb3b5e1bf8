DROP INDEX `tickets_event_tier_idx`;--> statement-breakpoint
CREATE INDEX `tickets_event_tier_status_idx` ON `tickets` (`event_id`,`tier_id`,`status`);--> statement-breakpoint
CREATE INDEX `tickets_event_created_idx` ON `tickets` (`event_id`,`created_at`,`id`);