CREATE TABLE `b2c_requests` (
	`id` text PRIMARY KEY NOT NULL,
	`purpose` text NOT NULL,
	`subject_id` text NOT NULL,
	`amount` integer NOT NULL,
	`phone` text NOT NULL,
	`status` text DEFAULT 'CREATED' NOT NULL,
	`conversation_id` text,
	`result_code` text,
	`result_desc` text,
	`receipt` text,
	`result_amount` integer,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`answered_at` integer,
	`settled_at` integer
);
--> statement-breakpoint
CREATE INDEX `b2c_requests_subject_idx` ON `b2c_requests` (`purpose`,`subject_id`);--> statement-breakpoint
CREATE INDEX `b2c_requests_status_idx` ON `b2c_requests` (`status`,`created_at`);--> statement-breakpoint
CREATE TABLE `refund_tickets` (
	`refund_id` text NOT NULL,
	`ticket_id` text NOT NULL,
	PRIMARY KEY(`refund_id`, `ticket_id`),
	FOREIGN KEY (`refund_id`) REFERENCES `refunds`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`ticket_id`) REFERENCES `tickets`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `refund_tickets_ticket_unique` ON `refund_tickets` (`ticket_id`);--> statement-breakpoint
CREATE TABLE `refunds` (
	`id` text PRIMARY KEY NOT NULL,
	`order_id` text NOT NULL,
	`event_id` text NOT NULL,
	`amount` integer NOT NULL,
	`reason` text DEFAULT '' NOT NULL,
	`trigger` text NOT NULL,
	`full` integer DEFAULT false NOT NULL,
	`status` text DEFAULT 'PENDING' NOT NULL,
	`phone` text NOT NULL,
	`mpesa_receipt` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`current_attempt_id` text,
	`failure_code` text,
	`failure_reason` text,
	`retryable` integer DEFAULT false NOT NULL,
	`auto_retries` integer DEFAULT 0 NOT NULL,
	`next_retry_at` integer,
	`resolution` text,
	`resolution_note` text,
	`review_reason` text,
	`created_by` text,
	`created_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	`sent_at` integer,
	`failed_at` integer,
	`completed_at` integer,
	`updated_at` integer DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER)) NOT NULL,
	FOREIGN KEY (`order_id`) REFERENCES `orders`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `refunds_order_idx` ON `refunds` (`order_id`);--> statement-breakpoint
CREATE INDEX `refunds_event_created_idx` ON `refunds` (`event_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `refunds_status_idx` ON `refunds` (`status`,`updated_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `refunds_system_trigger_unique` ON `refunds` (`order_id`,`trigger`) WHERE "refunds"."trigger" <> 'ORGANIZER';