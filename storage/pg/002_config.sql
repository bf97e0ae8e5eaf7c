-- 002_config.sql - the per-enterprise rules array (settings and API keys are in 001).
CREATE TABLE rules(
  enterprise_id text PRIMARY KEY REFERENCES enterprises(id) ON DELETE CASCADE,
  json text NOT NULL);
