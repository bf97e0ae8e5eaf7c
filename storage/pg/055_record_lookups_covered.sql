-- 055_record_lookups_covered.sql - matching's look-ups read their index table alone, not the
-- records row behind each hit, as SQLite's migration 174: record_emails keeps the record's
-- account_id, opportunity_contacts the opportunity's account_id and stage (the upsert rewrites
-- both with the record); record_emails_noplus and records_by_account gain the columns their
-- look-ups read. Index rows whose record is gone (none should be) go first.
DELETE FROM record_emails e WHERE NOT EXISTS (SELECT 1 FROM records r
  WHERE r.enterprise_id = e.enterprise_id AND r.type = e.type AND r.id = e.record_id);
DELETE FROM record_domains x WHERE NOT EXISTS (SELECT 1 FROM records r
  WHERE r.enterprise_id = x.enterprise_id AND r.type = 0 AND r.id = x.record_id);
DELETE FROM opportunity_contacts x WHERE NOT EXISTS (SELECT 1 FROM records r
  WHERE r.enterprise_id = x.enterprise_id AND r.type = 3 AND r.id = x.opportunity_id);
ALTER TABLE record_emails ADD COLUMN account_id text;
UPDATE record_emails e SET account_id = r.account_id FROM records r
  WHERE r.enterprise_id = e.enterprise_id AND r.type = e.type AND r.id = e.record_id;
ALTER TABLE opportunity_contacts ADD COLUMN account_id text;
ALTER TABLE opportunity_contacts ADD COLUMN stage integer NOT NULL DEFAULT 0;
UPDATE opportunity_contacts x SET account_id = r.account_id, stage = r.stage FROM records r
  WHERE r.enterprise_id = x.enterprise_id AND r.type = 3 AND r.id = x.opportunity_id;
DROP INDEX IF EXISTS record_emails_noplus;
CREATE INDEX record_emails_noplus ON record_emails(enterprise_id, email_noplus, type, record_id, account_id);
DROP INDEX IF EXISTS records_by_account;
CREATE INDEX records_by_account ON records(enterprise_id, account_id, type, id, stage) WHERE account_id IS NOT NULL;
