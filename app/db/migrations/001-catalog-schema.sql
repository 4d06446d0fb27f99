-- The demo catalogue. Prices are numeric (exact money), read by the app as strings and shown as such.
CREATE TABLE categories (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL UNIQUE
);

CREATE TABLE products (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  category_id integer NOT NULL REFERENCES categories (id),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  price numeric(10, 2) NOT NULL CHECK (price > 0),
  -- Bumped by every edit: the cache refuses to overwrite a newer entry with an older one (app/src/catalog/cache.ts).
  version integer NOT NULL DEFAULT 1,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX products_category_id ON products (category_id);

-- Deliberately no index on product_id: the product page's category aggregates scan every review of the category,
-- which is the costly query the cache exists to absorb (docs/caching.md).
CREATE TABLE reviews (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  product_id integer NOT NULL REFERENCES products (id),
  rating smallint NOT NULL CHECK (rating BETWEEN 1 AND 5)
);
