-- The server's statistics told every login how many rows each table holds: as an authority's
-- login, SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE schemaname = 'proj_contexts'
-- gave every authority's referrals. In this database, the statistics of tables and indexes
-- (the pg_stat_*/pg_statio_* views and the functions behind them) and the sizes pg_class
-- keeps (reltuples, relpages, relallvisible) are no longer PUBLIC's; every other column of
-- pg_class still is, so names can be looked up. The database's owner and superusers still
-- see them. Closing them needs a superuser (the catalogues are theirs): a migration run by
-- another role leaves them open and says so.
DO $$
DECLARE
    item record;
    columns text;
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE WARNING 'statistics views stay open to every login: closing them needs a superuser (run reach db migrate as one)';
        RETURN;
    END IF;
    FOR item IN
        SELECT c.oid::regclass AS relation FROM pg_class c
        WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind = 'v'
          AND (c.relname LIKE 'pg\_stat\_%tables' OR c.relname LIKE 'pg\_stat\_%indexes' OR c.relname LIKE 'pg\_statio\_%'
               OR c.relname LIKE 'pg\_stat\_xact\_%')
    LOOP
        EXECUTE format('REVOKE SELECT ON %s FROM PUBLIC', item.relation);
    END LOOP;
    FOR item IN
        SELECT p.oid::regprocedure AS function FROM pg_proc p
        WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname LIKE 'pg\_stat\_get\_%'
          AND p.pronargs = 1 AND p.proargtypes[0] = 'oid'::regtype
    LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', item.function);
    END LOOP;
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO columns
    FROM pg_attribute a
    WHERE a.attrelid = 'pg_catalog.pg_class'::regclass AND a.attnum > 0 AND NOT a.attisdropped
      AND a.attname NOT IN ('reltuples', 'relpages', 'relallvisible');
    REVOKE SELECT ON pg_catalog.pg_class FROM PUBLIC;
    EXECUTE format('GRANT SELECT (oid, %s) ON pg_catalog.pg_class TO PUBLIC', columns);
END
$$;
