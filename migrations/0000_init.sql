CREATE TABLE `account_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`purpose` text NOT NULL,
	`token_hash` text NOT NULL,
	`payload` text,
	`expires_at` integer NOT NULL,
	`used_at` integer,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `account_tokens_hash_unique` ON `account_tokens` (`token_hash`);--> statement-breakpoint
CREATE INDEX `account_tokens_user_purpose_idx` ON `account_tokens` (`user_id`,`purpose`);--> statement-breakpoint
CREATE INDEX `account_tokens_expires_idx` ON `account_tokens` (`expires_at`);--> statement-breakpoint
CREATE TABLE `auth_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`refresh_jti` text NOT NULL,
	`previous_refresh_jti` text,
	`rotated_at` integer,
	`expires_at` integer NOT NULL,
	`revoked_at` integer,
	`revoked_reason` text,
	`user_agent` text,
	`ip_address` text,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `auth_sessions_user_idx` ON `auth_sessions` (`user_id`);--> statement-breakpoint
CREATE INDEX `auth_sessions_expires_idx` ON `auth_sessions` (`expires_at`);--> statement-breakpoint
CREATE TABLE `blacklisted_tokens` (
	`jti` text PRIMARY KEY NOT NULL,
	`user_id` text,
	`expires_at` integer NOT NULL,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `blacklisted_tokens_expires_idx` ON `blacklisted_tokens` (`expires_at`);--> statement-breakpoint
CREATE TABLE `checkins` (
	`id` text PRIMARY KEY NOT NULL,
	`ticket_id` text NOT NULL,
	`event_id` text NOT NULL,
	`scanned_at` integer NOT NULL,
	`device_id` text DEFAULT '' NOT NULL,
	`scanner_id` text,
	`result` text NOT NULL,
	`source` text NOT NULL,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	FOREIGN KEY (`ticket_id`) REFERENCES `tickets`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `checkins_replay_unique` ON `checkins` (`ticket_id`,`device_id`,`scanned_at`);--> statement-breakpoint
CREATE INDEX `checkins_event_idx` ON `checkins` (`event_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `events` (
	`id` text PRIMARY KEY NOT NULL,
	`organizer_id` text NOT NULL,
	`store_id` text,
	`title` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`category` text DEFAULT 'OTHER' NOT NULL,
	`location_name` text DEFAULT '' NOT NULL,
	`start_datetime` integer NOT NULL,
	`end_datetime` integer NOT NULL,
	`poster_key` text,
	`is_published` integer DEFAULT true NOT NULL,
	`is_private` integer DEFAULT false NOT NULL,
	`status` text DEFAULT 'ACTIVE' NOT NULL,
	`cancelled_at` integer,
	`lowest_price` integer,
	`highest_price` integer,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`updated_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	FOREIGN KEY (`organizer_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`store_id`) REFERENCES `stores`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX `events_listing_idx` ON `events` (`is_published`,`is_private`,`status`,`start_datetime`);--> statement-breakpoint
CREATE INDEX `events_listing_end_idx` ON `events` (`is_published`,`is_private`,`status`,`end_datetime`);--> statement-breakpoint
CREATE INDEX `events_organizer_idx` ON `events` (`organizer_id`,`start_datetime`);--> statement-breakpoint
CREATE INDEX `events_store_idx` ON `events` (`store_id`,`start_datetime`);--> statement-breakpoint
CREATE INDEX `events_category_idx` ON `events` (`category`,`start_datetime`);--> statement-breakpoint
CREATE INDEX `events_lowest_price_idx` ON `events` (`lowest_price`);--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`scope` text NOT NULL,
	`key` text NOT NULL,
	`request_hash` text NOT NULL,
	`response_status` integer,
	`response_body` text,
	`expires_at` integer NOT NULL,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	PRIMARY KEY(`scope`, `key`)
);
--> statement-breakpoint
CREATE INDEX `idempotency_keys_expires_idx` ON `idempotency_keys` (`expires_at`);--> statement-breakpoint
CREATE TABLE `invitation_codes` (
	`id` text PRIMARY KEY NOT NULL,
	`code` text NOT NULL,
	`note` text DEFAULT '' NOT NULL,
	`is_active` integer DEFAULT true NOT NULL,
	`max_uses` integer,
	`use_count` integer DEFAULT 0 NOT NULL,
	`expires_at` integer,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `invitation_codes_code_upper_unique` ON `invitation_codes` (upper("code"));--> statement-breakpoint
CREATE TABLE `mail_log` (
	`id` text PRIMARY KEY NOT NULL,
	`dedupe_key` text,
	`kind` text NOT NULL,
	`to_email` text NOT NULL,
	`to_name` text DEFAULT '' NOT NULL,
	`subject` text NOT NULL,
	`text_body` text NOT NULL,
	`html_body` text NOT NULL,
	`attachments` text DEFAULT '[]' NOT NULL,
	`transport` text NOT NULL,
	`status` text DEFAULT 'QUEUED' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`locked_until` integer,
	`provider_message_id` text,
	`last_error` text,
	`order_id` text,
	`sent_at` integer,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `mail_log_dedupe_unique` ON `mail_log` (`dedupe_key`);--> statement-breakpoint
CREATE INDEX `mail_log_transport_created_idx` ON `mail_log` (`transport`,`created_at`);--> statement-breakpoint
CREATE INDEX `mail_log_order_idx` ON `mail_log` (`order_id`);--> statement-breakpoint
CREATE INDEX `mail_log_status_idx` ON `mail_log` (`status`,`created_at`);--> statement-breakpoint
CREATE TABLE `orders` (
	`id` text PRIMARY KEY NOT NULL,
	`reference` text NOT NULL,
	`user_id` text NOT NULL,
	`event_id` text NOT NULL,
	`tier_id` text NOT NULL,
	`quantity` integer NOT NULL,
	`unit_price` integer NOT NULL,
	`amount` integer NOT NULL,
	`buyer_name` text DEFAULT '' NOT NULL,
	`buyer_email` text NOT NULL,
	`phone_number` text,
	`status` text DEFAULT 'PENDING' NOT NULL,
	`failure_reason` text,
	`is_free` integer DEFAULT false NOT NULL,
	`hold_expires_at` integer,
	`merchant_request_id` text,
	`checkout_request_id` text,
	`mpesa_receipt_number` text,
	`result_code` integer,
	`result_desc` text,
	`paid_amount` integer,
	`paid_phone` text,
	`transaction_date` text,
	`paid_at` integer,
	`last_queried_at` integer,
	`query_attempts` integer DEFAULT 0 NOT NULL,
	`refund_status` text,
	`delivery_status` text,
	`delivery_attempts` integer DEFAULT 0 NOT NULL,
	`delivered_at` integer,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`updated_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`tier_id`) REFERENCES `tiers`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `orders_reference_unique` ON `orders` (`reference`);--> statement-breakpoint
CREATE UNIQUE INDEX `orders_checkout_request_unique` ON `orders` (`checkout_request_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `orders_receipt_unique` ON `orders` (`mpesa_receipt_number`);--> statement-breakpoint
CREATE INDEX `orders_user_idx` ON `orders` (`user_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `orders_event_status_idx` ON `orders` (`event_id`,`status`);--> statement-breakpoint
CREATE INDEX `orders_tier_idx` ON `orders` (`tier_id`);--> statement-breakpoint
CREATE INDEX `orders_settlement_idx` ON `orders` (`status`,`hold_expires_at`);--> statement-breakpoint
CREATE INDEX `orders_paid_at_idx` ON `orders` (`status`,`paid_at`);--> statement-breakpoint
CREATE TABLE `rate_limits` (
	`key` text PRIMARY KEY NOT NULL,
	`window_start` integer NOT NULL,
	`count` integer DEFAULT 0 NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `rate_limits_expires_idx` ON `rate_limits` (`expires_at`);--> statement-breakpoint
CREATE TABLE `stores` (
	`id` text PRIMARY KEY NOT NULL,
	`organizer_id` text NOT NULL,
	`name` text NOT NULL,
	`slug` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`logo_key` text,
	`banner_key` text,
	`instagram_link` text DEFAULT '' NOT NULL,
	`website_link` text DEFAULT '' NOT NULL,
	`is_published` integer DEFAULT true NOT NULL,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`updated_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	FOREIGN KEY (`organizer_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `stores_slug_unique` ON `stores` (`slug`);--> statement-breakpoint
CREATE INDEX `stores_organizer_idx` ON `stores` (`organizer_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `stores_published_name_idx` ON `stores` (`is_published`,lower("name"));--> statement-breakpoint
CREATE TABLE `tickets` (
	`id` text PRIMARY KEY NOT NULL,
	`order_id` text NOT NULL,
	`event_id` text NOT NULL,
	`tier_id` text NOT NULL,
	`owner_id` text NOT NULL,
	`seat_index` integer NOT NULL,
	`attendee_name` text DEFAULT '' NOT NULL,
	`attendee_email` text DEFAULT '' NOT NULL,
	`qr_code_hash` text NOT NULL,
	`ticket_hash` text NOT NULL,
	`signing_key_id` text NOT NULL,
	`status` text DEFAULT 'ACTIVE' NOT NULL,
	`checked_in_at` integer,
	`checked_in_by` text,
	`checked_in_device` text,
	`png_key` text,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`updated_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	FOREIGN KEY (`order_id`) REFERENCES `orders`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`tier_id`) REFERENCES `tiers`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`owner_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tickets_order_seat_unique` ON `tickets` (`order_id`,`seat_index`);--> statement-breakpoint
CREATE UNIQUE INDEX `tickets_ticket_hash_unique` ON `tickets` (`ticket_hash`);--> statement-breakpoint
CREATE INDEX `tickets_owner_idx` ON `tickets` (`owner_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `tickets_event_sync_idx` ON `tickets` (`event_id`,`updated_at`,`id`);--> statement-breakpoint
CREATE INDEX `tickets_event_tier_idx` ON `tickets` (`event_id`,`tier_id`);--> statement-breakpoint
CREATE TABLE `tiers` (
	`id` text PRIMARY KEY NOT NULL,
	`event_id` text NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`price` integer NOT NULL,
	`quantity_allocated` integer NOT NULL,
	`quantity_sold` integer DEFAULT 0 NOT NULL,
	`quantity_held` integer DEFAULT 0 NOT NULL,
	`max_per_order` integer DEFAULT 10 NOT NULL,
	`sales_start` integer,
	`sales_end` integer,
	`position` integer DEFAULT 0 NOT NULL,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`updated_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `tiers_event_idx` ON `tiers` (`event_id`,`position`);--> statement-breakpoint
CREATE INDEX `tiers_price_idx` ON `tiers` (`price`,`event_id`);--> statement-breakpoint
CREATE TABLE `users` (
	`id` text PRIMARY KEY NOT NULL,
	`username` text NOT NULL,
	`email` text NOT NULL,
	`password_hash` text,
	`role` text DEFAULT 'ATTENDEE' NOT NULL,
	`first_name` text DEFAULT '' NOT NULL,
	`last_name` text DEFAULT '' NOT NULL,
	`avatar_url` text DEFAULT '' NOT NULL,
	`is_verified` integer DEFAULT false NOT NULL,
	`is_guest` integer DEFAULT false NOT NULL,
	`is_active` integer DEFAULT true NOT NULL,
	`organizer_id` text,
	`google_sub` text,
	`phone_number` text,
	`password_changed_at` integer,
	`last_login_at` integer,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`updated_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `users_email_lower_unique` ON `users` (lower("email"));--> statement-breakpoint
CREATE UNIQUE INDEX `users_username_lower_unique` ON `users` (lower("username"));--> statement-breakpoint
CREATE UNIQUE INDEX `users_google_sub_unique` ON `users` (`google_sub`);--> statement-breakpoint
CREATE INDEX `users_organizer_idx` ON `users` (`organizer_id`);