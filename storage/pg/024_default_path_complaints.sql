-- issue 13, the shared relay's reputation (SQLite migration 134): recipients of the default path
-- who complained (an ARF report came back), read with default_path_log for the complaint rate; one
-- row per recipient however many reports.
CREATE TABLE default_path_complaints(
  enterprise_id text NOT NULL REFERENCES enterprises(id) ON DELETE CASCADE,
  outbound_id text NOT NULL, address text NOT NULL, at bigint NOT NULL,
  PRIMARY KEY(enterprise_id, outbound_id, address));
