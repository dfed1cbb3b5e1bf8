ALTER TABLE `b2c_requests` ADD `status_query_id` text;--> statement-breakpoint
ALTER TABLE `b2c_requests` ADD `status_queried_at` integer;--> statement-breakpoint
ALTER TABLE `b2c_requests` ADD `status_queries` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `b2c_requests_status_query_idx` ON `b2c_requests` (`status_query_id`);