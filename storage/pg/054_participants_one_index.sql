-- 054_participants_one_index.sql - 010's two participant indexes (by address, by domain) become
-- one, by domain then address, as SQLite's migration 170: a look-up by address probes it with
-- both columns (the address's own domain), one by domain with the first. Archiving a message
-- wrote two index entries per participant; now one.
DROP INDEX IF EXISTS participants_by_address;
DROP INDEX IF EXISTS participants_by_domain;
CREATE INDEX participants_by_domain_address
  ON participants(lower(substr(address, strpos(address, '@') + 1)), lower(address));
