package tf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/hashicorp/terraform-exec/tfexec"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"
)

// A project's workspace is one row of the pg backend's states table
// (schema.states: id, name, data), and its outputs are in that row's
// state. The engine reads and creates the row itself, through the
// backend's own connection (Config.PGConnStr), instead of running
// `terraform workspace select`, `workspace new` and `output`: three
// processes of a new project's seven were only these. Terraform then runs
// with TF_WORKSPACE naming the workspace.
//
// Creating the row directly also avoids the backend's global creation lock
// (workspace.go): terraform's `workspace new` holds pg_try_advisory_lock(-1)
// while it writes the empty state, and fails at once ("Already locked for
// workspace creation") when another project is taking a state lock at that
// moment. An INSERT of the empty state ... ON CONFLICT (name) DO NOTHING
// needs no lock: the table's unique name decides between two creators,
// terraform's or ours, and the state written is what terraform writes.

// workspaceEnv names the workspace of every command after init (which runs
// in the default workspace, see ensureInit).
const workspaceEnv = "TF_WORKSPACE"

// emptyStateVersion is the terraform_version written into a new
// workspace's empty state: the oldest the engine supports (MinVersion),
// which every supported terraform reads (terraform refuses states written
// by a newer version than itself) and replaces with its own at the first
// write.
var emptyStateVersion = MinVersion.String()

// useWorkspace makes the project's workspace the one the run's later
// commands use. When it does not exist it is created if create is set;
// otherwise useWorkspace reports false and the commands keep the default
// workspace.
func (r *run) useWorkspace(create bool) (bool, error) {
	ws := r.project.workspace()
	var exists bool
	err := r.e.withStateConn(r.ctx, func(conn *pgx.Conn, states string) error {
		if create {
			created, err := createWorkspace(r.ctx, conn, states, ws)
			if created {
				r.e.log.Info("created terraform workspace", zap.String("workspace", ws))
			}
			exists = err == nil
			return err
		}
		return conn.QueryRow(r.ctx, `SELECT EXISTS (SELECT 1 FROM `+states+` WHERE name = $1)`, ws).Scan(&exists)
	})
	if err != nil {
		return false, r.stateError("workspace "+ws, err)
	}
	if exists {
		r.env[workspaceEnv] = ws
	}
	return exists, nil
}

// createWorkspace inserts ws with an empty state unless it exists. The
// NOT EXISTS spares the id sequence a number per plan of an existing
// workspace; ON CONFLICT settles a concurrent creation.
func createWorkspace(ctx context.Context, conn *pgx.Conn, states, ws string) (bool, error) {
	empty, err := emptyState()
	if err != nil {
		return false, err
	}
	tag, err := conn.Exec(ctx, `INSERT INTO `+states+` (name, data)
		SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM `+states+` WHERE name = $1)
		ON CONFLICT (name) DO NOTHING`, ws, empty)
	return err == nil && tag.RowsAffected() == 1, err
}

// emptyState is the state terraform writes into a workspace it creates
// (format version 4, serial 0 and a new lineage).
func emptyState() (string, error) {
	lineage, err := uuid.NewRandom()
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(map[string]any{
		"version": 4, "terraform_version": emptyStateVersion, "serial": 0, "lineage": lineage.String(),
		"outputs": map[string]any{}, "resources": []any{}, "check_results": nil,
	})
	return string(b), err
}

// stateOutputs reads the root module outputs from the workspace's state in
// the backend, as `terraform output -json` would print them; a workspace
// that does not exist has none.
func (r *run) stateOutputs() (map[string]tfexec.OutputMeta, error) {
	ws := r.project.workspace()
	var data *string
	err := r.e.withStateConn(r.ctx, func(conn *pgx.Conn, states string) error {
		err := conn.QueryRow(r.ctx, `SELECT data FROM `+states+` WHERE name = $1`, ws).Scan(&data)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, r.stateError("outputs of workspace "+ws, err)
	}
	metas := map[string]tfexec.OutputMeta{}
	if data == nil || *data == "" {
		return metas, nil
	}
	var st struct {
		Version *int                         `json:"version"`
		Outputs map[string]tfexec.OutputMeta `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(*data), &st); err != nil {
		return nil, fmt.Errorf("tf: reading the state of workspace %s: %w", ws, err)
	}
	if st.Version == nil || *st.Version != 4 {
		return nil, fmt.Errorf("tf: reading the state of workspace %s: not state format version 4", ws)
	}
	for name, m := range st.Outputs {
		metas[name] = m
	}
	return metas, nil
}

// stateError is the operation's error for a failed read or write of the
// backend's table: the deadline or cancellation as for a command, else
// the database's error, whose text pgx keeps free of the password.
func (r *run) stateError(what string, err error) error {
	if r.ctx.Err() != nil {
		return r.stopped("workspace", r.ctx.Err())
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" {
		return fmt.Errorf("tf: %s: the pg backend's table %s does not exist (terraform init creates it)", what,
			pgx.Identifier{r.e.cfg.PGSchema, "states"}.Sanitize())
	}
	return fmt.Errorf("tf: %s: %s", what, r.red.redact(err.Error()))
}
