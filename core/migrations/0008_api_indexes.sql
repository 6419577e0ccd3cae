-- The lamp list's text search is an ILIKE '%...%' on four columns, which only a trigram
-- index can serve. A server without pg_trgm keeps an unindexed search, and the migration
-- still succeeds.
DO $$
DECLARE
    trgm_schema name;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        RAISE NOTICE 'pg_trgm is not available on this server: the lamp text search runs without an index';
        RETURN;
    END IF;
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE NOTICE 'pg_trgm could not be created (%): the lamp text search runs without an index', SQLERRM;
        RETURN;
    END;
    -- The operator class lives where the extension was installed, maybe outside search_path.
    SELECT n.nspname INTO trgm_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    EXECUTE format(
        'CREATE INDEX IF NOT EXISTS lamps_text_trgm_idx ON lamps USING gin ('
        'lamp_id %1$I.gin_trgm_ops, name %1$I.gin_trgm_ops, street %1$I.gin_trgm_ops, address %1$I.gin_trgm_ops)',
        trgm_schema
    );
END
$$;
