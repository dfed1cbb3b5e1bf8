CREATE TABLE `order_items` (
	`order_id` text NOT NULL,
	`tier_id` text NOT NULL,
	`position` integer NOT NULL,
	`quantity` integer NOT NULL,
	`unit_price` integer NOT NULL,
	`discount` integer DEFAULT 0 NOT NULL,
	`discounted_seats` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`order_id`, `tier_id`),
	FOREIGN KEY (`order_id`) REFERENCES `orders`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`tier_id`) REFERENCES `tiers`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `order_items_tier_idx` ON `order_items` (`tier_id`);--> statement-breakpoint
ALTER TABLE `tickets` ADD `price_paid` integer;--> statement-breakpoint
ALTER TABLE `tiers` ADD `max_per_buyer` integer;