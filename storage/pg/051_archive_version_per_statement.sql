-- 051_archive_version_per_statement.sql - an INSERT into timeline moves its enterprises' archive
-- versions once per statement, not once per row: a statement-level trigger reads the inserted rows
-- (a transition table) and calls archive_version_bump (040) once per enterprise among them. A
-- message's links-and-timeline insert writes one row per link in one statement, so 3 links were 3
-- calls of the plpgsql trigger and its upsert (each but the transaction's first a no-op by
-- bumped_in, 010); now 1. A statement that inserts nothing (ON CONFLICT DO NOTHING) moves nothing,
-- as before. Still a trigger, so every path that inserts timeline rows is covered, the C code's and
-- 050's functions alike; updates and deletes keep the per-row trigger. The bump's row lock is taken
-- as before (the cluster's hot row, docs/scaling.md, is unchanged).
DROP TRIGGER archive_version_timeline ON timeline;
CREATE TRIGGER archive_version_timeline AFTER UPDATE OR DELETE ON timeline
  FOR EACH ROW EXECUTE FUNCTION bump_archive_version();
CREATE FUNCTION bump_archive_version_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM archive_version_bump(e) FROM (SELECT DISTINCT enterprise_id AS e FROM inserted) s;
  RETURN NULL;
END $$;
CREATE TRIGGER archive_version_timeline_ins AFTER INSERT ON timeline
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION bump_archive_version_inserted();
