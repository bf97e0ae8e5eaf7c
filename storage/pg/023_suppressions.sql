-- 023_suppressions.sql - bounce management (as SQLite's migration 118): the suppression list
-- (addresses an enterprise no longer sends to) and the soft-bounce streak per address, both
-- changed by single statements (ON CONFLICT), so two nodes handling bounces at once agree.
CREATE TABLE suppressions(
  enterprise_id text NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
  address text NOT NULL, reason text NOT NULL, detail text, source text, created_at bigint NOT NULL,
  PRIMARY KEY(enterprise_id, address));
CREATE TABLE soft_bounces(
  enterprise_id text NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
  address text NOT NULL, count bigint NOT NULL, first_at bigint NOT NULL, last_at bigint NOT NULL,
  PRIMARY KEY(enterprise_id, address));
