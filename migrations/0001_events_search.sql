-- Full-text search over events (title, description, location) for GET /api/events/?q=.
-- External-content FTS5 index over `events`, kept in sync by triggers so every write path
-- (create, edit, delete, seed) updates it without remembering to.
CREATE VIRTUAL TABLE `events_fts` USING fts5(
	title,
	description,
	location_name,
	content='events',
	content_rowid='rowid',
	tokenize='unicode61 remove_diacritics 2',
	prefix='2 3'
);
--> statement-breakpoint
CREATE TRIGGER `events_fts_after_insert` AFTER INSERT ON `events` BEGIN
	INSERT INTO events_fts(rowid, title, description, location_name)
	VALUES (new.rowid, new.title, new.description, new.location_name);
END;
--> statement-breakpoint
CREATE TRIGGER `events_fts_after_delete` AFTER DELETE ON `events` BEGIN
	INSERT INTO events_fts(events_fts, rowid, title, description, location_name)
	VALUES ('delete', old.rowid, old.title, old.description, old.location_name);
END;
--> statement-breakpoint
CREATE TRIGGER `events_fts_after_update` AFTER UPDATE OF title, description, location_name ON `events` BEGIN
	INSERT INTO events_fts(events_fts, rowid, title, description, location_name)
	VALUES ('delete', old.rowid, old.title, old.description, old.location_name);
	INSERT INTO events_fts(rowid, title, description, location_name)
	VALUES (new.rowid, new.title, new.description, new.location_name);
END;
