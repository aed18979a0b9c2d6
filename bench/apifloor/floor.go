package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// floorServer does the least a GET or a PUT of one project can do, and
// nothing more: it is what tenantform's API is measured against.
//
//   - GET: an HS256 check, one SELECT by key of tenantform's own projects
//     table, the row as JSON;
//   - PUT: an HS256 check, the body read and checked to be JSON, one
//     upsert of the spec into a table of the same key, spec and
//     generation with its NOTIFY in the same statement, the row as JSON
//     (or, with ownTable, one upsert into tenantform's projects table,
//     whose triggers NOTIFY).
//
// No routing library, no logging, no validation of the spec: whatever
// tenantform spends beyond this is its own overhead.
type floorServer struct {
	pool   *pgxpool.Pool
	secret []byte
	// ownTable makes the PUT write tenantform's projects table instead
	// of floor_projects: the same one upsert, paying what that table
	// costs every writer (its indexes, its generated column, and the
	// triggers that NOTIFY). tenantform against this floor is what its
	// own code adds; this floor against the other is what its schema
	// adds.
	ownTable bool
}

// floorSchema is the PUT floor's table: the key, the spec and the
// generation and timestamps every upsert maintains.
const floorSchema = `
CREATE TABLE IF NOT EXISTS floor_projects (
    user_id    text        NOT NULL,
    project_id text        NOT NULL,
    spec       jsonb       NOT NULL,
    generation bigint      NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, project_id)
)`

func (f *floorServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// /api/v1/users/{user}/projects/{project}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v1/users/"), "/")
	if len(parts) != 3 || parts[1] != "projects" {
		http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
		return
	}
	user, project := parts[0], parts[2]
	if !f.authorized(r, user) {
		http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	var row []byte
	var err error
	switch r.Method {
	case http.MethodGet:
		err = f.pool.QueryRow(ctx, `SELECT row_to_json(p)::text FROM projects p WHERE user_id = $1 AND project_id = $2`,
			user, project).Scan(&row)
	case http.MethodPut:
		body, rerr := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if rerr != nil || !json.Valid(body) {
			http.Error(w, `{"error":"bad body"}`, http.StatusBadRequest)
			return
		}
		if f.ownTable {
			// An UPDATE when the row exists (every PUT after the first),
			// an INSERT when it does not.
			err = f.pool.QueryRow(ctx, `
				UPDATE projects p SET spec = $3, generation = p.generation + 1, revision = p.revision + 1,
					updated_at = now(), due_at = now()
				WHERE user_id = $1 AND project_id = $2
				RETURNING row_to_json(p)::text`,
				user, project, body).Scan(&row)
			if errors.Is(err, pgx.ErrNoRows) {
				err = f.pool.QueryRow(ctx, `
					INSERT INTO projects AS p (user_id, project_id, spec, created_at, updated_at, expires_at, due_at)
					VALUES ($1, $2, $3, now(), now(), now() + interval '1 hour', now())
					ON CONFLICT DO NOTHING
					RETURNING row_to_json(p)::text`,
					user, project, body).Scan(&row)
			}
			break
		}
		err = f.pool.QueryRow(ctx, `
			WITH up AS (
				INSERT INTO floor_projects (user_id, project_id, spec) VALUES ($1, $2, $3)
				ON CONFLICT (user_id, project_id) DO UPDATE
				SET spec = EXCLUDED.spec, generation = floor_projects.generation + 1, updated_at = now()
				RETURNING *
			)
			SELECT row_to_json(up)::text FROM up, pg_notify('floor_projects', $1 || '/' || $2)`,
			user, project, body).Scan(&row)
	default:
		http.Error(w, `{"error":"method"}`, http.StatusMethodNotAllowed)
		return
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
		return
	case err != nil:
		http.Error(w, `{"error":"database"}`, http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(row)
}

// authorized checks the bearer token as tenantform does: HS256 with the
// shared secret, an expiry, and a subject that is the user or an admin.
func (f *floorServer) authorized(r *http.Request, user string) bool {
	raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		return false
	}
	claims := jwt.MapClaims{}
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired()).
		ParseWithClaims(raw, claims, func(*jwt.Token) (any, error) { return f.secret, nil })
	if err != nil {
		return false
	}
	sub, _ := claims["sub"].(string)
	admin, _ := claims["admin"].(bool)
	return sub == user || admin
}
