-- 042_relay_oauth2.sql - a relay with AUTH XOAUTH2 names its OAuth2 provider (a preset with OAuth2
-- endpoints, whose client the enterprise set with `mailbox oauth2-client`; SQLite migration 151);
-- its tokens are the oauth2_grants row of owner 'relay:<id>'.
ALTER TABLE relays ADD COLUMN IF NOT EXISTS auth_provider text;
