-- 022_sending.sql - the employee-mailbox channel's daily counts (as SQLite's migration 115): the
-- recipients a mailbox sent or reserved per calendar day. A reservation is one upsert that
-- computes what it grants from the row it locks (granted is that last grant, returned with the
-- new count), so two nodes reserving at once never pass the limit together.
-- mailbox_id has no foreign key here: the mailboxes table comes with a later migration (030-039),
-- which adds it (ON DELETE CASCADE).
CREATE TABLE mailbox_send_days(
  mailbox_id text NOT NULL, day text NOT NULL,
  sent bigint NOT NULL, granted bigint NOT NULL DEFAULT 0,
  PRIMARY KEY(mailbox_id, day));
