ALTER TABLE `orders` ADD `placed_as_guest` integer DEFAULT false NOT NULL;--> statement-breakpoint
-- Earlier orders did not record whether a guest placed them. Fail closed: an order of an
-- account that has not proven its email (unverified, or gate staff) counts as a guest order,
-- so a squatter keeps no ticket captured before this change; the real owner sees them again
-- by proving the email (verification link, password reset, Google). Proven accounts lose nothing.
UPDATE `orders` SET `placed_as_guest` = true WHERE `user_id` IN (SELECT `id` FROM `users` WHERE `is_verified` = 0 OR `role` = 'SCANNER');
