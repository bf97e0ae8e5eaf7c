-- 050_timeline_items.sql - SQLite migration 165 on PostgreSQL: a timeline page is one range of the
-- timeline's primary key and nothing else. Each row carries its whole item in one column (item,
-- storage/storage_timeline_row.h): a message row its message's fields, its From/To/Cc
-- participants, attachments and record links, and its Message-ID while the queue holds a message
-- with it (the delivery key: only those items look their delivery states up); an activity row its
-- activity's fields. timeline_field writes one field; the view timeline_message_fields is the one
-- definition of a message row's item and timeline_activity_item of an activity row's: the inserts
-- read them, so do the link and unlink paths, which rewrite a message's rows when a link comes or
-- goes (every sibling row lists the message's links; in storage's code, not a trigger on
-- message_links, which archiving would pay on every link), and the trigger below when the queue
-- gains or loses its Message-ID; existing rows are filled from them here.
ALTER TABLE timeline ADD COLUMN item text;

CREATE FUNCTION timeline_field(v text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN v IS NULL THEN '~' ELSE octet_length(v)::text || ':' || v END $$;

CREATE FUNCTION timeline_activity_item(id text, rule_id text, rule_name text, activity_type text, title text,
  content text, owner text, created_at bigint) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT timeline_field(id) || timeline_field(rule_id) || timeline_field(rule_name) || timeline_field(activity_type)
    || timeline_field(title) || timeline_field(content) || timeline_field(owner) || timeline_field(created_at::text) $$;

-- (the parts' look-ups by message_id use their primary keys since 049 gave them messages.id's collation)
CREATE VIEW timeline_message_fields AS SELECT m.id, m.enterprise_id, m.date, m.direction, m.has_attachment,
  m.thread_id,
  timeline_field(m.thread_id) || timeline_field(m.direction::text) || timeline_field(m.subject)
  || timeline_field(m.snippet) || timeline_field(m.parse_error) || timeline_field(m.machine::text)
  || timeline_field(CASE WHEN m.direction = 1 AND m.message_id IS NOT NULL AND EXISTS (SELECT 1 FROM outbound_messages o
       WHERE o.enterprise_id = m.enterprise_id AND o.message_id = m.message_id) THEN m.message_id END)
  || coalesce((SELECT string_agg(timeline_field(p.role::text) || timeline_field(p.name) || timeline_field(p.address),
       '' ORDER BY p.pos) FROM participants p WHERE p.message_id = m.id AND p.role IN (0, 2, 3)), '') || '.'
  || coalesce((SELECT string_agg(timeline_field(x.filename) || timeline_field(x.content_type)
       || timeline_field(x.content_id) || timeline_field(x.is_inline::text) || timeline_field(x.size::text)
       || timeline_field(x.sha256), '' ORDER BY x.pos) FROM attachments x WHERE x.message_id = m.id), '') || '.'
  || coalesce((SELECT string_agg(timeline_field(l.record_type::text) || timeline_field(l.record_id), ''
       ORDER BY l.record_type, l.record_id) FROM message_links l WHERE l.message_id = m.id), '') || '.' AS item
  FROM messages m;

-- A queued message added or deleted: the archived outbound message with its Message-ID carries it
-- as its delivery key while the queue holds one.
CREATE FUNCTION timeline_delivery_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  ent text := CASE WHEN TG_OP = 'DELETE' THEN OLD.enterprise_id ELSE NEW.enterprise_id END;
  mid text := CASE WHEN TG_OP = 'DELETE' THEN OLD.message_id ELSE NEW.message_id END;
BEGIN
  IF mid IS NOT NULL THEN
    UPDATE timeline t SET item = v.item FROM messages m JOIN timeline_message_fields v ON v.id = m.id
      WHERE m.enterprise_id = ent AND m.message_id = mid AND m.direction = 1 AND t.message_id = m.id AND t.kind = 0
      AND t.item IS DISTINCT FROM v.item;
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
UPDATE timeline t SET item = v.item FROM timeline_message_fields v WHERE v.id = t.message_id AND t.kind = 0;
UPDATE timeline t SET item = timeline_activity_item(a.id, a.rule_id, a.rule_name, a.activity_type, a.title, a.content,
  a.owner, a.created_at)
  FROM activities a WHERE a.id = t.activity_id AND t.kind = 1;
