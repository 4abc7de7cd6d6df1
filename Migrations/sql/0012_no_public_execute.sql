-- Functions are executable by PUBLIC unless revoked: every login on the server could call the
-- log's functions (keep a backend busy in reach.horizon_settled for weeks, ask
-- reach.record_event_id whether a record exists). None is PUBLIC's now, nor any function this
-- database's owner creates from here on; each role is granted what it needs.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA reach FROM PUBLIC;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- The application's role: appending and reading the log, and verifying it.
GRANT EXECUTE ON FUNCTION reach.event_digest_input(uuid, text, bigint, text, integer, jsonb, jsonb, date, text, timestamptz) TO reach_app;
GRANT EXECUTE ON FUNCTION reach.chain_step(bytea, bytea, bytea) TO reach_app;
GRANT EXECUTE ON FUNCTION reach.chain(bytea, bytea) TO reach_app;
