-- 050_timeline_items.sql - SQLite migration 165 on PostgreSQL: a timeline page is one range of the
-- timeline's primary key and nothing else. Each row carries what its item shows: a message row
-- (kind 0) its message's fields and, in the length-prefixed lists of storage/storage_timeline_row.h,
-- its From/To/Cc participants (people), attachments (files) and record links (links), plus its
-- Message-ID when the queue holds a message with it (delivery_key: only those items look their
-- delivery states up); an activity row (kind 1) its activity's fields. The view
-- timeline_message_fields is the one definition of a message row's values (timeline_field writes
-- one list field): the inserts read it, the triggers below keep the rows exact when a link comes
-- or goes (every sibling row lists the message's links) or the queue gains or loses the
-- Message-ID, and existing rows are filled from it here.
ALTER TABLE timeline ADD COLUMN subject text, ADD COLUMN snippet text, ADD COLUMN parse_error text,
  ADD COLUMN machine integer NOT NULL DEFAULT 0, ADD COLUMN people text, ADD COLUMN files text,
  ADD COLUMN links text, ADD COLUMN delivery_key text, ADD COLUMN rule_id text, ADD COLUMN rule_name text,
  ADD COLUMN activity_type text, ADD COLUMN title text, ADD COLUMN content text, ADD COLUMN owner text,
  ADD COLUMN created_at bigint NOT NULL DEFAULT 0;

CREATE FUNCTION timeline_field(v text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN v IS NULL THEN '~' ELSE octet_length(v)::text || ':' || v END $$;

CREATE VIEW timeline_message_fields AS SELECT m.id, m.enterprise_id, m.date, m.direction, m.has_attachment,
  m.thread_id, m.subject, m.snippet, m.parse_error, m.machine,
  (SELECT string_agg(timeline_field(p.role::text) || timeline_field(p.name) || timeline_field(p.address), ''
     ORDER BY p.pos) FROM participants p WHERE p.message_id = m.id AND p.role IN (0, 2, 3)) AS people,
  (SELECT string_agg(timeline_field(x.filename) || timeline_field(x.content_type) || timeline_field(x.content_id)
     || timeline_field(x.is_inline::text) || timeline_field(x.size::text) || timeline_field(x.sha256), ''
     ORDER BY x.pos) FROM attachments x WHERE x.message_id = m.id) AS files,
  (SELECT string_agg(timeline_field(l.record_type::text) || timeline_field(l.record_id), ''
     ORDER BY l.record_type, l.record_id) FROM message_links l WHERE l.message_id = m.id) AS links,
  CASE WHEN m.direction = 1 AND m.message_id IS NOT NULL AND EXISTS (SELECT 1 FROM outbound_messages o
    WHERE o.enterprise_id = m.enterprise_id AND o.message_id = m.message_id) THEN m.message_id END AS delivery_key
  FROM messages m;

-- A link added or removed: every kind-0 row of its message lists the message's links again.
CREATE FUNCTION timeline_links_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  mid text := CASE WHEN TG_OP = 'DELETE' THEN OLD.message_id ELSE NEW.message_id END;
BEGIN
  UPDATE timeline t SET links = v.links FROM timeline_message_fields v
    WHERE v.id = mid AND t.message_id = mid AND t.kind = 0 AND t.links IS DISTINCT FROM v.links;
  RETURN NULL;
END $$;
CREATE TRIGGER timeline_links AFTER INSERT OR DELETE ON message_links
  FOR EACH ROW EXECUTE FUNCTION timeline_links_refresh();

-- A queued message added or deleted: the archived outbound messages with its Message-ID carry it
-- as their delivery key while the queue holds one.
CREATE FUNCTION timeline_delivery_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ent text := CASE WHEN TG_OP = 'DELETE' THEN OLD.enterprise_id ELSE NEW.enterprise_id END;
  mid text := CASE WHEN TG_OP = 'DELETE' THEN OLD.message_id ELSE NEW.message_id END;
BEGIN
  IF mid IS NOT NULL THEN
    UPDATE timeline t SET delivery_key = v.delivery_key FROM messages m JOIN timeline_message_fields v ON v.id = m.id
      WHERE m.enterprise_id = ent AND m.message_id = mid AND m.direction = 1 AND t.message_id = m.id AND t.kind = 0
      AND t.delivery_key IS DISTINCT FROM v.delivery_key;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER timeline_delivery AFTER INSERT OR DELETE ON outbound_messages
  FOR EACH ROW EXECUTE FUNCTION timeline_delivery_refresh();

-- existing rows; a row whose message or activity is gone is no item (pages skip it)
DELETE FROM timeline t WHERE t.kind = 0 AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = t.message_id
  AND m.enterprise_id = t.enterprise_id);
DELETE FROM timeline t WHERE t.kind = 1 AND NOT EXISTS (SELECT 1 FROM activities a WHERE a.id = t.activity_id
  AND a.enterprise_id = t.enterprise_id);
UPDATE timeline t SET subject = v.subject, snippet = v.snippet, parse_error = v.parse_error, machine = v.machine,
  people = v.people, files = v.files, links = v.links, delivery_key = v.delivery_key
  FROM timeline_message_fields v WHERE v.id = t.message_id AND t.kind = 0;
UPDATE timeline t SET rule_id = a.rule_id, rule_name = a.rule_name, activity_type = a.activity_type, title = a.title,
  content = a.content, owner = a.owner, created_at = a.created_at
  FROM activities a WHERE a.id = t.activity_id AND t.kind = 1;
