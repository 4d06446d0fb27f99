-- The role the app connects as: read the catalogue, edit a product's name and price, nothing else (no DDL, no
-- DELETE, no other column). Created without a password; the deployment sets one from a secret
-- (infra/postgres/set-app-password.sh), so no password is ever in a migration.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'catalog_app') THEN
    CREATE ROLE catalog_app NOLOGIN;
  END IF;
END
$$;

REVOKE ALL ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO catalog_app;
GRANT SELECT ON categories, products, reviews TO catalog_app;
GRANT UPDATE (name, price, version, updated_at) ON products TO catalog_app;

DO $$
BEGIN
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO catalog_app', current_database());
END
$$;
