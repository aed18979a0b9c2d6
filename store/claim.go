package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// Claiming a due project, in two steps so that its cost never grows with
// one user's backlog:
//
//  1. pickUsers walks the distinct users of the projects table with a loose
//     index scan (one primary-key probe per user) and, for each, probes the
//     (user_id, due_at) index for its earliest claimable project and the
//     (user_id, lease_expires_at) index for its live leases. The work is
//     proportional to the number of users, never to how many projects one
//     of them has waiting. (The previous single statement counted a user's
//     leases in a correlated subquery for every due row: 10,000 due
//     projects of one user made every claim scan 10,000 × 10,000 rows, and
//     past 15,000 no claim finished inside the reconciler's deadline.)
//     When few projects are claimable at all (a reconciler at rest, where
//     resyncs fall due one by one), the walk is skipped: the users are
//     those of a sample of at most claimDueSample claimable projects read
//     from the due_at index, which is then the whole claimable set. So at
//     rest a claim costs what is due, not one probe per user: a resync
//     round of N projects of U users is no longer N × U probes.
//  2. claimUser leases the earliest due project of the first user in
//     round-robin order with FOR UPDATE SKIP LOCKED; when a concurrent
//     replica took it, the next user in order is tried.

// claimUsersPerCall bounds how many users one claim tries after the first
// is taken by a concurrent replica.
const claimUsersPerCall = 8

// claimDueSample bounds the claimable projects pickUsers reads in due
// order before it walks every user instead (see above).
const claimDueSample = 256

// ClaimDue leases the due project of the user served longest ago, so that
// claiming is round-robin across users with due work, and skips users that
// hold MaxPerUser live leases (of projects and of speculative plans). Any number of reconcilers may claim
// concurrently.
func (s *Store) ClaimDue(ctx context.Context, c Claim) (Project, bool, error) {
	inflight := make([]string, len(c.InFlight))
	for i, k := range c.InFlight {
		inflight[i] = k.String()
	}
	users, err := s.pickUsers(ctx, c, inflight)
	if err != nil {
		return Project{}, false, err
	}
	for _, u := range users {
		p, err := scanProject(s.pool.QueryRow(ctx, `WITH candidate AS (
				SELECT p.user_id, p.project_id FROM projects p
				WHERE p.user_id = $5 AND p.due_at <= $3
				  AND NOT (p.user_id || '/' || p.project_id = ANY($4::text[]))
				  AND (p.lease_expires_at IS NULL OR p.lease_expires_at < now() OR p.lease_owner = $1)
				ORDER BY p.due_at
				LIMIT 1
				FOR UPDATE OF p SKIP LOCKED
			), claimed AS (
				UPDATE projects SET lease_owner = $1, lease_token = gen_random_uuid(),
					lease_expires_at = now() + make_interval(secs => $2::float8)
				FROM candidate c WHERE projects.user_id = c.user_id AND projects.project_id = c.project_id
				RETURNING projects.*
			), served AS (
				INSERT INTO user_claims (user_id, last_claimed_at) SELECT user_id, clock_timestamp() FROM claimed
				ON CONFLICT (user_id) DO UPDATE SET last_claimed_at = EXCLUDED.last_claimed_at
			)
			SELECT `+projectColumns+` FROM claimed`,
			c.Owner, c.LeaseFor.Seconds(), micro(c.Now), inflight, u))
		if errors.Is(err, ErrNotFound) {
			continue // a concurrent replica took it: try the next user
		}
		if err != nil {
			return Project{}, false, err
		}
		return p, true, nil
	}
	return Project{}, false, nil
}

// pickUsers returns, in round-robin order (served longest ago first), the
// users that have a claimable due project and fewer than MaxPerUser live
// leases. A lease of this replica on a project it is not working on is
// stale (its final write was lost) and is not counted as a worker.
func (s *Store) pickUsers(ctx context.Context, c Claim, inflight []string) ([]string, error) {
	rows, err := s.pool.Query(ctx, pickUsersQuery, c.Owner, c.MaxPerUser, micro(c.Now), inflight, claimUsersPerCall)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var users []string
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, translate(err)
		}
		users = append(users, u)
	}
	return users, translate(rows.Err())
}

// explainPickUsers measures pickUsers' work for the tests and benchmarks:
// the rows its plan nodes returned or filtered away, over all loops.
func (s *Store) explainPickUsers(ctx context.Context, c Claim) (int64, error) {
	inflight := make([]string, len(c.InFlight))
	for i, k := range c.InFlight {
		inflight[i] = k.String()
	}
	var plan []struct {
		Plan explainNode `json:"Plan"`
	}
	if err := s.pool.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+pickUsersQuery,
		c.Owner, c.MaxPerUser, micro(c.Now), inflight, claimUsersPerCall).Scan(&plan); err != nil {
		return 0, translate(err)
	}
	if len(plan) != 1 {
		return 0, fmt.Errorf("EXPLAIN returned %d plans", len(plan))
	}
	return plan[0].Plan.rowsTouched(), nil
}

type explainNode struct {
	ActualRows    float64       `json:"Actual Rows"`
	ActualLoops   float64       `json:"Actual Loops"`
	RemovedFilter float64       `json:"Rows Removed by Filter"`
	RemovedIndex  float64       `json:"Rows Removed by Index Recheck"`
	Plans         []explainNode `json:"Plans"`
}

func (n explainNode) rowsTouched() int64 {
	t := int64((n.ActualRows + n.RemovedFilter + n.RemovedIndex) * n.ActualLoops)
	for _, c := range n.Plans {
		t += c.rowsTouched()
	}
	return t
}

var pickUsersQuery = `WITH RECURSIVE due_sample AS MATERIALIZED (
			-- At most claimDueSample + 1 claimable projects in due order
			-- (the due_at index). Fewer than that is the whole claimable
			-- set, and its users are the only candidates.
			-- Two branches, each on its partial index: unleased rows by
			-- due time (projects_due_unleased), and the few leased ones
			-- (live leases are bounded by the workers; projects_lease_expires).
			(SELECT user_id FROM projects
				WHERE lease_expires_at IS NULL AND due_at <= $3
				ORDER BY due_at LIMIT ` + strconv.Itoa(claimDueSample+1) + `)
			UNION ALL
			(SELECT user_id FROM projects
				WHERE lease_expires_at IS NOT NULL AND due_at <= $3
				  AND (lease_expires_at < now() OR lease_owner = $1)
				ORDER BY lease_expires_at LIMIT ` + strconv.Itoa(claimDueSample+1) + `)
		), walk(user_id) AS (
			-- Otherwise every user, by a loose index scan. Nothing
			-- claimable costs the sample's one probe.
			(SELECT user_id FROM projects
				WHERE (SELECT count(*) FROM due_sample) > ` + strconv.Itoa(claimDueSample) + `
				ORDER BY user_id LIMIT 1)
			UNION ALL
			SELECT (SELECT p.user_id FROM projects p WHERE p.user_id > u.user_id ORDER BY p.user_id LIMIT 1)
			FROM walk u WHERE u.user_id IS NOT NULL
		), users(user_id) AS (
			SELECT DISTINCT user_id FROM due_sample
			WHERE (SELECT count(*) FROM due_sample) <= ` + strconv.Itoa(claimDueSample) + `
			UNION ALL
			SELECT user_id FROM walk
		)
		SELECT u.user_id FROM users u
		LEFT JOIN user_claims uc ON uc.user_id = u.user_id
		CROSS JOIN LATERAL (
			SELECT p.due_at FROM projects p
			WHERE p.user_id = u.user_id AND p.due_at <= $3
			  AND NOT (p.user_id || '/' || p.project_id = ANY($4::text[]))
			  AND (p.lease_expires_at IS NULL OR p.lease_expires_at < now() OR p.lease_owner = $1)
			ORDER BY p.due_at
			LIMIT 1
		) first_due
		WHERE u.user_id IS NOT NULL
		  AND ($2::int <= 0 OR (SELECT count(*) FROM projects q
				WHERE q.user_id = u.user_id AND q.lease_expires_at >= now()
				  AND (q.lease_owner <> $1 OR q.user_id || '/' || q.project_id = ANY($4::text[])))
			  + ` + speculativeLeases("u.user_id") + ` < $2::int)
		ORDER BY uc.last_claimed_at NULLS FIRST, first_due.due_at
		LIMIT $5`
