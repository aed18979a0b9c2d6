package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// InventoryItem is one tagged AWS resource of the inventory snapshot.
type InventoryItem struct {
	ARN string `json:"arn"`
	// Type is "service:type" from the ARN, such as s3:bucket.
	Type   string            `json:"type"`
	Region string            `json:"region"`
	Tags   map[string]string `json:"tags"`
	// FirstSeen and LastSeen are the database times of the listings that
	// first and last found the resource (zero on items not yet stored).
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
}

// Inventory is the stored snapshot.
type Inventory struct {
	Items []InventoryItem
	// ListedAt is when each region was last listed completely; a region
	// that is absent has never been listed.
	ListedAt map[string]time.Time
}

// ReplaceInventory makes items the snapshot of region: a complete listing
// of it. Resources listed before keep their first_seen, the others of the
// region are removed. It returns the listing's time (the database's).
func (s *Store) ReplaceInventory(ctx context.Context, region string, items []InventoryItem) (time.Time, error) {
	arns := make([]string, len(items))
	types := make([]string, len(items))
	tags := make([]string, len(items))
	for i, it := range items {
		if it.Region != region {
			return time.Time{}, fmt.Errorf("inventory item %s is in region %q, not %q", it.ARN, it.Region, region)
		}
		b, err := json.Marshal(it.Tags)
		if err != nil {
			return time.Time{}, err
		}
		arns[i], types[i], tags[i] = it.ARN, it.Type, string(b)
	}
	var listedAt time.Time
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Projects whose resources appeared, vanished or were re-tagged
		// since the last listing are due now: drift is found within one
		// listing, and projects whose resources did not change are not
		// looked at.
		if _, err := tx.Exec(ctx, `
			UPDATE projects p SET due_at = least(p.due_at, now())
			FROM (
				SELECT x.g::jsonb AS tags FROM unnest($1::text[], $2::text[]) AS x(a, g)
					LEFT JOIN aws_inventory i ON i.arn = x.a
					WHERE i.arn IS NULL OR i.tags <> x.g::jsonb
				UNION ALL
				SELECT i.tags FROM unnest($1::text[], $2::text[]) AS x(a, g)
					JOIN aws_inventory i ON i.arn = x.a WHERE i.tags <> x.g::jsonb
				UNION ALL
				SELECT i.tags FROM aws_inventory i WHERE i.region = $3
					AND NOT EXISTS (SELECT FROM unnest($1::text[]) AS x(a) WHERE x.a = i.arn)
			) changed
			WHERE p.user_id = changed.tags->>'UserId' AND p.project_id = changed.tags->>'ProjectId'`,
			arns, tags, region); err != nil {
			return err
		}
		// now() is the transaction's start: one time for the whole listing.
		if _, err := tx.Exec(ctx, `
			INSERT INTO aws_inventory (arn, resource_type, region, tags, first_seen, last_seen)
			SELECT a, t, $4, g::jsonb, now(), now()
			FROM unnest($1::text[], $2::text[], $3::text[]) AS x(a, t, g)
			ON CONFLICT (arn) DO UPDATE SET
				resource_type = excluded.resource_type,
				region = excluded.region,
				tags = excluded.tags,
				last_seen = excluded.last_seen,
				-- Other tags may name another owner: the orphan wait
				-- starts again (store/orphans.go).
				orphan_listed_at = CASE WHEN aws_inventory.tags = excluded.tags
					THEN aws_inventory.orphan_listed_at END`,
			arns, types, tags, region); err != nil {
			return err
		}
		// An anti-join, which PostgreSQL hashes: "NOT (arn = ANY(array))"
		// scanned the whole listing for every stored row, 11 s at 10,000
		// resources (BENCHMARKS.md).
		if _, err := tx.Exec(ctx, `DELETE FROM aws_inventory i WHERE i.region = $1
			AND NOT EXISTS (SELECT FROM unnest($2::text[]) AS x(a) WHERE x.a = i.arn)`, region, arns); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `
			INSERT INTO aws_inventory_listings (region, listed_at) VALUES ($1, now())
			ON CONFLICT (region) DO UPDATE SET listed_at = excluded.listed_at
			RETURNING listed_at`, region).Scan(&listedAt)
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot store the inventory of %s: %w", region, translate(err))
	}
	return listedAt.UTC(), nil
}

// FreshInventoryRegions returns the regions listed less than `within` ago,
// by the database's clock: another replica's listing that this one need
// not repeat.
func (s *Store) FreshInventoryRegions(ctx context.Context, within time.Duration) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT region FROM aws_inventory_listings
		WHERE listed_at > now() - make_interval(secs => $1) ORDER BY region`, within.Seconds())
	if err != nil {
		return nil, translate(err)
	}
	regions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return regions, translate(err)
}

// Inventory returns the whole snapshot, sorted by ARN.
func (s *Store) Inventory(ctx context.Context) (Inventory, error) {
	return s.inventory(ctx, `SELECT arn, resource_type, region, tags, first_seen, last_seen FROM aws_inventory ORDER BY arn`)
}

// ProjectInventory returns the snapshot's resources whose Project tag is
// projectTag (chart-app-{userId}-{projectId}), with every region's listing
// time.
func (s *Store) ProjectInventory(ctx context.Context, projectTag string) (Inventory, error) {
	return s.inventory(ctx, `SELECT arn, resource_type, region, tags, first_seen, last_seen FROM aws_inventory
		WHERE tags->>'Project' = $1 ORDER BY arn`, projectTag)
}

func (s *Store) inventory(ctx context.Context, sql string, args ...any) (Inventory, error) {
	inv := Inventory{ListedAt: map[string]time.Time{}}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return Inventory{}, translate(err)
	}
	for rows.Next() {
		var it InventoryItem
		if err := rows.Scan(&it.ARN, &it.Type, &it.Region, &it.Tags, &it.FirstSeen, &it.LastSeen); err != nil {
			rows.Close()
			return Inventory{}, translate(err)
		}
		it.FirstSeen, it.LastSeen = it.FirstSeen.UTC(), it.LastSeen.UTC()
		inv.Items = append(inv.Items, it)
	}
	if err := rows.Err(); err != nil {
		return Inventory{}, translate(err)
	}
	rows, err = s.pool.Query(ctx, `SELECT region, listed_at FROM aws_inventory_listings`)
	if err != nil {
		return Inventory{}, translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var region string
		var at time.Time
		if err := rows.Scan(&region, &at); err != nil {
			return Inventory{}, translate(err)
		}
		inv.ListedAt[region] = at.UTC()
	}
	return inv, translate(rows.Err())
}

// LiveProject is one project row as the orphan check sees it.
type LiveProject struct {
	Key
	// CreatedAt tells this incarnation apart from an earlier one of the
	// same key; its resources carry it as their CreatedAt tag.
	CreatedAt time.Time
}

// LiveProjects returns every project row, whatever its phase: a project
// being destroyed still owns its resources. The orphan check compares the
// inventory's tags with these.
func (s *Store) LiveProjects(ctx context.Context) ([]LiveProject, error) {
	rows, err := s.pool.Query(ctx, `SELECT user_id, project_id, created_at FROM projects ORDER BY user_id, project_id`)
	if err != nil {
		return nil, translate(err)
	}
	live, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LiveProject, error) {
		var p LiveProject
		err := r.Scan(&p.UserID, &p.ProjectID, &p.CreatedAt)
		p.CreatedAt = p.CreatedAt.UTC()
		return p, err
	})
	return live, translate(err)
}

// StrayProjects counts the projects whose Strays condition is True:
// resources tagged with them exist in AWS that their state does not hold.
func (s *Store) StrayProjects(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM projects
		WHERE conditions @> '[{"type": "Strays", "status": "True"}]'::jsonb`).Scan(&n)
	return n, translate(err)
}
