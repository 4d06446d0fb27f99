import type { DbPool } from '../db.ts';
import type { CatalogMetrics } from './metrics.ts';

export type ProductPage = {
  id: number;
  name: string;
  /** Exact decimal as text ("12.50"): numeric is never squeezed through a float. */
  price: string;
  version: number;
  updatedAt: string;
  category: {
    id: number;
    name: string;
    products: number;
    minPrice: string;
    maxPrice: string;
    avgPrice: string;
    reviews: number;
    avgRating: string;
  };
};

export type ProductSummary = { id: number; name: string; price: string; category: string };

export type ProductRepository = ReturnType<typeof createProductRepository>;

// The deliberately costly read: the product with its category's aggregates, which scan every review of every
// product in the category (~4,200 rows of 100,000, no index on reviews.product_id). What the cache absorbs.
const PRODUCT_PAGE_SQL = `
  SELECT p.id, p.name, p.price::text AS price, p.version, p.updated_at,
         c.id AS category_id, c.name AS category_name,
         s.products, s.min_price::text AS min_price, s.max_price::text AS max_price,
         round(s.avg_price, 2)::text AS avg_price, s.reviews, round(s.avg_rating, 2)::text AS avg_rating
  FROM products p
  JOIN categories c ON c.id = p.category_id
  CROSS JOIN LATERAL (
    SELECT count(DISTINCT q.id)::int AS products, min(q.price) AS min_price, max(q.price) AS max_price,
           avg(q.price) AS avg_price, count(r.id)::int AS reviews, avg(r.rating) AS avg_rating
    FROM products q LEFT JOIN reviews r ON r.product_id = q.id
    WHERE q.category_id = p.category_id
  ) s
  WHERE p.id = $1`;

type PageRow = {
  id: number;
  name: string;
  price: string;
  version: number;
  updated_at: Date;
  category_id: number;
  category_name: string;
  products: number;
  min_price: string;
  max_price: string;
  avg_price: string;
  reviews: number;
  avg_rating: string;
};

/** Products in PostgreSQL. Handed a pool (never creates one); every query is counted. */
export function createProductRepository({ db, metrics }: { db: DbPool; metrics: Pick<CatalogMetrics, 'dbQuery'> }) {
  const query = <Row extends object>(sql: string, values: unknown[]) => {
    metrics.dbQuery();
    return db.query<Row>(sql, values);
  };

  return {
    async findPage(id: number): Promise<ProductPage | null> {
      const { rows } = await query<PageRow>(PRODUCT_PAGE_SQL, [id]);
      const row = rows[0];
      if (!row) return null;
      return {
        id: row.id,
        name: row.name,
        price: row.price,
        version: row.version,
        updatedAt: row.updated_at.toISOString(),
        category: {
          id: row.category_id,
          name: row.category_name,
          products: row.products,
          minPrice: row.min_price,
          maxPrice: row.max_price,
          avgPrice: row.avg_price,
          reviews: row.reviews,
          avgRating: row.avg_rating,
        },
      };
    },

    /** One page of the list, cheap (primary key order): read straight from the database, not cached. */
    async list(offset: number, limit: number): Promise<{ products: ProductSummary[]; total: number }> {
      const { rows } = await query<ProductSummary & { total: number }>(
        `SELECT p.id, p.name, p.price::text AS price, c.name AS category, count(*) OVER ()::int AS total
         FROM products p JOIN categories c ON c.id = p.category_id
         ORDER BY p.id LIMIT $1 OFFSET $2`,
        [limit, offset],
      );
      return { products: rows.map(({ total: _total, ...product }) => product), total: rows[0]?.total ?? 0 };
    },

    /** Saves an edit; returns the new version, or null for an unknown product. */
    async update(id: number, edit: { name: string; price: string }): Promise<number | null> {
      const { rows } = await query<{ version: number }>(
        `UPDATE products SET name = $2, price = $3, version = version + 1, updated_at = now()
         WHERE id = $1 RETURNING version`,
        [id, edit.name, edit.price],
      );
      return rows[0]?.version ?? null;
    },
  };
}
