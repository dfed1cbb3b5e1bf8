CREATE TABLE `mpesa_simulator_pushes` (
	`checkout_request_id` text PRIMARY KEY NOT NULL,
	`merchant_request_id` text NOT NULL,
	`phone_number` text NOT NULL,
	`amount` integer NOT NULL,
	`account_reference` text NOT NULL,
	`callback_url` text NOT NULL,
	`result_code` integer NOT NULL,
	`result_desc` text NOT NULL,
	`receipt_number` text,
	`answers_at` integer,
	`callback_sent_at` integer,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL
);
--> statement-breakpoint
ALTER TABLE `tiers` ADD `inventory_version` integer DEFAULT 0 NOT NULL;