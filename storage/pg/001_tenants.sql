-- 001_tenants.sql - PostgreSQL schema, first step: enterprises, their domains, virtual inbound
-- addresses, employees, API keys and settings, with the tenant version the SMTP server's RCPT
-- snapshot follows (bumped by a trigger on each of these tables, as SQLite's migration 13 does).
-- Times are Unix seconds in bigint, as in the SQLite schema, so both backends return the same.
CREATE TABLE counters(name text PRIMARY KEY, n bigint NOT NULL);
INSERT INTO counters(name, n) VALUES ('tenant_version', 0), ('messages', 0), ('activities', 0), ('records', 0);

CREATE FUNCTION bump_tenant_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE counters SET n = n + 1 WHERE name = 'tenant_version';
  RETURN NULL;
END $$;

CREATE TABLE enterprises(
  id text PRIMARY KEY, slug text NOT NULL UNIQUE, name text NOT NULL, created_at bigint NOT NULL);

CREATE TABLE enterprise_domains(
  enterprise_id text NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
  domain text NOT NULL,
  status text NOT NULL DEFAULT 'pending',
  reason text, detail text,
  failures integer NOT NULL DEFAULT 0, dns_errors integer NOT NULL DEFAULT 0,
  checked_at bigint NOT NULL DEFAULT 0, next_check_at bigint NOT NULL DEFAULT 0,
  verified_at bigint NOT NULL DEFAULT 0, created_at bigint NOT NULL DEFAULT 0,
  challenge text NOT NULL DEFAULT '', return_path text NOT NULL DEFAULT 'bounce', report text,
  PRIMARY KEY(enterprise_id, domain));
CREATE INDEX enterprise_domains_by_domain ON enterprise_domains(domain);
CREATE UNIQUE INDEX enterprise_domains_owner ON enterprise_domains(domain) WHERE status = 'verified';
CREATE INDEX enterprise_domains_due ON enterprise_domains(next_check_at);

CREATE TABLE inbound_addresses(
  local text PRIMARY KEY,
  enterprise_id text NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
  created_at bigint NOT NULL, expires_at bigint);
CREATE INDEX inbound_by_enterprise ON inbound_addresses(enterprise_id);

CREATE TABLE employees(
  id text PRIMARY KEY,
  enterprise_id text NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
  email text NOT NULL, name text, created_at bigint NOT NULL,
  UNIQUE(enterprise_id, email));

CREATE TABLE api_keys(
  id text PRIMARY KEY,
  enterprise_id text REFERENCES enterprises(id) ON DELETE CASCADE,
  label text, prefix text, secret_hash text NOT NULL UNIQUE,
  created_at bigint NOT NULL, revoked_at bigint NOT NULL DEFAULT 0);
CREATE INDEX api_keys_by_enterprise ON api_keys(enterprise_id, created_at);

CREATE TABLE settings(
  enterprise_id text NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
  key text NOT NULL, value text NOT NULL,
  PRIMARY KEY(enterprise_id, key));

CREATE TRIGGER enterprises_tenant AFTER INSERT OR UPDATE OR DELETE ON enterprises
  FOR EACH STATEMENT EXECUTE FUNCTION bump_tenant_version();
CREATE TRIGGER enterprise_domains_tenant AFTER INSERT OR UPDATE OR DELETE ON enterprise_domains
  FOR EACH STATEMENT EXECUTE FUNCTION bump_tenant_version();
CREATE TRIGGER inbound_addresses_tenant AFTER INSERT OR UPDATE OR DELETE ON inbound_addresses
  FOR EACH STATEMENT EXECUTE FUNCTION bump_tenant_version();
CREATE TRIGGER employees_tenant AFTER INSERT OR UPDATE OR DELETE ON employees
  FOR EACH STATEMENT EXECUTE FUNCTION bump_tenant_version();
CREATE TRIGGER settings_tenant AFTER INSERT OR UPDATE OR DELETE ON settings
  FOR EACH STATEMENT EXECUTE FUNCTION bump_tenant_version();
