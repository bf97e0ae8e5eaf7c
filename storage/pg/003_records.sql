-- 003_records.sql - CRM records and the index tables matching reads (by e-mail address with and
-- without "+tag", accounts by domain, opportunities by contact). Lists are text[] here (SQLite keeps
-- them joined); the records counter follows inserts and deletes as in SQLite.
CREATE TABLE records(
  enterprise_id text NOT NULL, type integer NOT NULL, id text NOT NULL,
  name text, emails text[] NOT NULL DEFAULT '{}', domains text[] NOT NULL DEFAULT '{}',
  account_id text, contact_ids text[] NOT NULL DEFAULT '{}', stage integer NOT NULL DEFAULT 0,
  attributes text NOT NULL DEFAULT '{}',
  PRIMARY KEY(enterprise_id, type, id));
CREATE INDEX records_by_account ON records(enterprise_id, account_id, type) WHERE account_id IS NOT NULL;

CREATE TABLE record_emails(
  enterprise_id text NOT NULL, email text NOT NULL, email_noplus text NOT NULL,
  type integer NOT NULL, record_id text NOT NULL,
  PRIMARY KEY(enterprise_id, email, type, record_id));
CREATE INDEX record_emails_noplus ON record_emails(enterprise_id, email_noplus);
CREATE INDEX record_emails_by_record ON record_emails(enterprise_id, type, record_id);

CREATE TABLE record_domains(
  enterprise_id text NOT NULL, domain text NOT NULL, record_id text NOT NULL,
  PRIMARY KEY(enterprise_id, domain, record_id));
CREATE INDEX record_domains_by_record ON record_domains(enterprise_id, record_id);

CREATE TABLE opportunity_contacts(
  enterprise_id text NOT NULL, contact_id text NOT NULL, opportunity_id text NOT NULL,
  PRIMARY KEY(enterprise_id, contact_id, opportunity_id));
CREATE INDEX opportunity_contacts_by_opp ON opportunity_contacts(enterprise_id, opportunity_id);

CREATE FUNCTION count_records() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE counters SET n = n + (CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END) WHERE name = 'records';
  RETURN NULL;
END $$;
CREATE TRIGGER records_counted AFTER INSERT OR DELETE ON records FOR EACH ROW EXECUTE FUNCTION count_records();
