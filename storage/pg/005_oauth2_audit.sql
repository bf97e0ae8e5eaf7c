-- 005_oauth2_audit.sql - OAuth2 grants (sealed tokens per owner, a generation for compare-and-set
-- rotation), the single-use states of the authorization-code flow, and the audit log of
-- administrative changes (append-only, numbered in the order of writing).
CREATE TABLE oauth2_grants(
  owner text PRIMARY KEY, enterprise_id text NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
  provider text, access_sealed text, access_expires_at bigint NOT NULL DEFAULT 0, refresh_sealed text,
  generation bigint NOT NULL DEFAULT 1, state text NOT NULL DEFAULT 'valid', updated_at bigint NOT NULL);
CREATE TABLE oauth2_states(
  state text PRIMARY KEY, owner text NOT NULL,
  enterprise_id text NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
  verifier_sealed text NOT NULL, expires_at bigint NOT NULL, used_at bigint);
CREATE TABLE audit(
  seq bigserial PRIMARY KEY, enterprise_id text, actor text NOT NULL,
  action text NOT NULL, target text, details text, at bigint NOT NULL);
CREATE INDEX audit_by_enterprise ON audit(enterprise_id, seq);
