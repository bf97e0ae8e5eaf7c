-- SQLite migration 132 on PostgreSQL (numbered after the mailboxes range so a database of any
-- earlier main gets it): an archived outbound message's timeline entry shows its
-- recipients' delivery states, so a change of a recipient's state or reply, or the queued message's
-- deletion, moves the enterprise's archive version in the same transaction (other nodes' page
-- caches drop that enterprise's pages). Only when the message was archived: queue churn of mail
-- the archive did not keep drops nothing. A trigger's WHEN cannot hold a subquery, so the
-- archived-or-not test is in the function; the bump itself is one function that 010's trigger
-- function now calls too.
CREATE FUNCTION archive_version_bump(ent text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  me bigint := pg_current_xact_id()::text::bigint;
BEGIN
  INSERT INTO archive_versions(enterprise_id, n, bumped_in)
    SELECT ent, floor(random() * 4503599627370496)::bigint, me FROM enterprises WHERE id = ent
    ON CONFLICT(enterprise_id) DO UPDATE SET n = archive_versions.n + 1, bumped_in = me
    WHERE archive_versions.bumped_in <> me;
END $$;

CREATE OR REPLACE FUNCTION bump_archive_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM archive_version_bump(CASE WHEN TG_OP = 'DELETE' THEN OLD.enterprise_id ELSE NEW.enterprise_id END);
  RETURN NULL;
END $$;

CREATE FUNCTION bump_archive_version_if_archived() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ent text;
  mid text;
BEGIN
  IF TG_TABLE_NAME = 'outbound_recipients' THEN
    ent := NEW.enterprise_id;
    SELECT message_id INTO mid FROM outbound_messages WHERE id = NEW.outbound_id;
  ELSE
    ent := OLD.enterprise_id;
    mid := OLD.message_id;
  END IF;
  IF mid IS NOT NULL AND EXISTS (SELECT 1 FROM messages WHERE enterprise_id = ent AND message_id = mid) THEN
    PERFORM archive_version_bump(ent);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER archive_version_outbound_upd AFTER UPDATE OF state, last_reply ON outbound_recipients
  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.last_reply IS DISTINCT FROM NEW.last_reply)
  EXECUTE FUNCTION bump_archive_version_if_archived();
CREATE TRIGGER archive_version_outbound_del AFTER DELETE ON outbound_messages
  FOR EACH ROW EXECUTE FUNCTION bump_archive_version_if_archived();
