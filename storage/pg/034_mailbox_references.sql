-- 034_mailbox_references.sql - a mailbox's daily counts and the choices of it as an employee's
-- sending mailbox go with the mailbox (ON DELETE CASCADE, as SQLite's migrations 113 and 115):
-- 021 and 022 made those tables before 030 made mailboxes, so the foreign keys are added here.
-- Rows naming no mailbox cannot have been written by a working backend; they are dropped so the
-- constraints can be added.
DELETE FROM mailbox_send_days d WHERE NOT EXISTS (SELECT 1 FROM mailboxes m WHERE m.id = d.mailbox_id);
DELETE FROM employee_send_mailboxes e WHERE NOT EXISTS (SELECT 1 FROM mailboxes m WHERE m.id = e.mailbox_id);
ALTER TABLE mailbox_send_days ADD CONSTRAINT mailbox_send_days_mailbox
  FOREIGN KEY (mailbox_id) REFERENCES mailboxes(id) ON DELETE CASCADE;
ALTER TABLE employee_send_mailboxes ADD CONSTRAINT employee_send_mailboxes_mailbox
  FOREIGN KEY (mailbox_id) REFERENCES mailboxes(id) ON DELETE CASCADE;
CREATE INDEX IF NOT EXISTS employee_send_mailboxes_by_mailbox ON employee_send_mailboxes(mailbox_id);
