-- Indexes for the API's read paths.
--
-- The lamp list's text search (`q`: a substring of the id, name, street or address, any
-- case) is an ILIKE '%...%' on four columns, which a B-tree cannot serve: without an
-- index, every search reads the whole inventory twice (count and page). A trigram GIN
-- index (pg_trgm) serves it for searches of three characters or more.
--
-- pg_trgm ships with PostgreSQL's contrib modules and is a trusted extension (a database
-- owner may create it), but a server may lack contrib or refuse the extension. Then the
-- search keeps working without the index, and the migration still succeeds; a later
-- migration can add the index once the extension is there.
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
