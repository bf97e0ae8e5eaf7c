-- 006_dkim_keys.sql - DKIM keys per enterprise domain (private keys sealed by the caller); a key
-- goes with its domain claim.
CREATE TABLE dkim_keys(
  id text PRIMARY KEY,
  enterprise_id text NOT NULL, domain text NOT NULL, selector text NOT NULL,
  algorithm text NOT NULL, private_sealed text NOT NULL, public_b64 text NOT NULL,
  state text NOT NULL DEFAULT 'pending', target text, published boolean NOT NULL DEFAULT false,
  created_at bigint NOT NULL, activated_at bigint NOT NULL DEFAULT 0, retired_at bigint NOT NULL DEFAULT 0,
  UNIQUE(enterprise_id, domain, selector),
  FOREIGN KEY(enterprise_id, domain) REFERENCES enterprise_domains(enterprise_id, domain) ON DELETE CASCADE);
