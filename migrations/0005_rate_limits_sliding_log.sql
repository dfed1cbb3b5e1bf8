ALTER TABLE `rate_limits` ADD `hits` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `rate_limits` DROP COLUMN `window_start`;--> statement-breakpoint
ALTER TABLE `rate_limits` DROP COLUMN `count`;