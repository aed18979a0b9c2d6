package store

import "context"

// OrphanInputsVersion changes whenever what decides which inventory
// resources are orphans may have changed: a region's listing (its time;
// the inventory's rows change only with it, in ReplaceInventory's
// transaction), or the set of project rows with their incarnations (their
// number and a sum of hashes of key and created_at). It reads no tags and
// no specs, so a /metrics scrape can tell whether the orphan count it
// computed last still holds in a few milliseconds, instead of reading the
// whole inventory and every project again (BENCHMARKS.md: 0.2–0.8 s at
// 10,000–50,000 projects).
func (s *Store) OrphanInputsVersion(ctx context.Context) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT
		(SELECT coalesce(string_agg(region || '=' || listed_at::text, ',' ORDER BY region), '') FROM aws_inventory_listings)
		|| '|' || (SELECT count(*)::text || ':' || coalesce(sum(hashtext(user_id || '/' || project_id || '@' || created_at::text)::bigint), 0)::text
			FROM projects)`).Scan(&v)
	return v, translate(err)
}
