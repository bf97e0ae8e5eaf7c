-- 049_message_parts_collation.sql - the tables that hang off a message compare their message_id
-- byte-wise, as messages.id does (COLLATE "C", 010_archive.sql). With the default collation on one
-- side and "C" on the other, a join on message_id = m.id is done in "C", which their primary keys
-- and indexes (built in the default collation) cannot serve: each such join read the whole table
-- (the thread's opportunity links, the timeline item's parts, erasure's attachments).
-- test_pipeline_rematch's work counters on PostgreSQL found it.
ALTER TABLE message_bodies ALTER COLUMN message_id TYPE text COLLATE "C";
ALTER TABLE participants ALTER COLUMN message_id TYPE text COLLATE "C";
ALTER TABLE attachments ALTER COLUMN message_id TYPE text COLLATE "C";
ALTER TABLE message_links ALTER COLUMN message_id TYPE text COLLATE "C";
ALTER TABLE provenance ALTER COLUMN message_id TYPE text COLLATE "C";
ALTER TABLE activities ALTER COLUMN message_id TYPE text COLLATE "C";
ALTER TABLE search_docs ALTER COLUMN message_id TYPE text COLLATE "C";
