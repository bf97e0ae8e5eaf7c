-- 041_job_leases.sql - the leader of each scheduled job of `serve` (storage_job_lease; SQLite
-- migration 150): one row per job with its owner and the end of its lease. A row, not
-- pg_try_advisory_lock: an advisory lock belongs to one connection, so it would follow the
-- connection rather than the node (a pooler would hand it to whichever client got that
-- connection, and a node whose connection hangs keeps it), and it cannot be seen or ended by
-- time; a row with an expiry is taken over when its holder stops renewing it and shows in SQL.
CREATE TABLE IF NOT EXISTS job_leases(job text PRIMARY KEY, lease_owner text NOT NULL, lease_until bigint NOT NULL);
