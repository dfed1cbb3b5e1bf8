CREATE TABLE `promo_code_tiers` (
	`promo_code_id` text NOT NULL,
	`tier_id` text NOT NULL,
	PRIMARY KEY(`promo_code_id`, `tier_id`),
	FOREIGN KEY (`promo_code_id`) REFERENCES `promo_codes`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`tier_id`) REFERENCES `tiers`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `promo_code_tiers_tier_idx` ON `promo_code_tiers` (`tier_id`);--> statement-breakpoint
CREATE TABLE `promo_codes` (
	`id` text PRIMARY KEY NOT NULL,
	`event_id` text NOT NULL,
	`code` text NOT NULL,
	`discount_type` text NOT NULL,
	`value` integer NOT NULL,
	`all_tiers` integer DEFAULT true NOT NULL,
	`max_uses` integer,
	`max_uses_per_buyer` integer,
	`valid_from` integer,
	`valid_until` integer,
	`is_active` integer DEFAULT true NOT NULL,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`updated_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `promo_codes_event_code_unique` ON `promo_codes` (`event_id`,`code`);--> statement-breakpoint
CREATE INDEX `promo_codes_event_created_idx` ON `promo_codes` (`event_id`,`created_at`);