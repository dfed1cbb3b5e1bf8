ALTER TABLE `orders` ADD `promo_code_id` text REFERENCES promo_codes(id);--> statement-breakpoint
ALTER TABLE `orders` ADD `promo_code` text;--> statement-breakpoint
ALTER TABLE `orders` ADD `discount` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `orders` ADD `discounted_seats` integer DEFAULT 0 NOT NULL;