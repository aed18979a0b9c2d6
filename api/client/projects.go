package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Spec is what a client writes: the project's Terraform files and
// settings. Zero values take the server's defaults.
type Spec struct {
	Files             map[string]string          `json:"files"`
	Variables         map[string]json.RawMessage `json:"variables,omitempty"`
	Region            string                     `json:"region,omitempty"`
	TTLMinutes        int                        `json:"ttlMinutes,omitempty"`
	MaxMonthlyCostUSD float64                    `json:"maxMonthlyCostUSD,omitempty"`
	RequireApproval   bool                       `json:"requireApproval,omitempty"`
}

// Project is a project as the API shows it.
type Project struct {
	UserID              string     `json:"userId"`
	ProjectID           string     `json:"projectId"`
	Generation          int64      `json:"generation"`
	CreatedAt           time.Time  `json:"createdAt"`
	UpdatedAt           time.Time  `json:"updatedAt"`
	ExpiresAt           time.Time  `json:"expiresAt"`
	DeletionRequestedAt *time.Time `json:"deletionRequestedAt"`
	Spec                Spec       `json:"spec"`
	Status              Status     `json:"status"`
}

// Status is what the reconciler reports.
type Status struct {
	Phase                   string         `json:"phase"`
	ObservedGeneration      int64          `json:"observedGeneration"`
	ResourceCount           int            `json:"resourceCount"`
	EstimatedMonthlyCostUSD float64        `json:"estimatedMonthlyCostUSD"`
	Outputs                 map[string]any `json:"outputs"`
	Conditions              []Condition    `json:"conditions"`
	Message                 string         `json:"message"`
	LastError               string         `json:"lastError"`
	Attempts                int            `json:"attempts"`
	NextAttemptAt           *time.Time     `json:"nextAttemptAt"`
	PendingPlanRun          int64          `json:"pendingPlanRun"`
	ReservedResources       int            `json:"reservedResources"`
	ReservedMonthlyCostUSD  float64        `json:"reservedMonthlyCostUSD"`
}

// Condition is one of the status's conditions (Ready, ExpiringSoon, …).
type Condition struct {
	Type               string `json:"type"`
	Status             string `json:"status"`
	Reason             string `json:"reason"`
	Message            string `json:"message"`
	ObservedGeneration int64  `json:"observedGeneration"`
}

// Run is one terraform plan, apply or destroy. Kind is reconcile, or
// speculative for a plan that is never applied.
type Run struct {
	ID                      int64           `json:"id"`
	Generation              int64           `json:"generation"`
	Operation               string          `json:"operation"`
	Kind                    string          `json:"kind"`
	Reason                  string          `json:"reason"`
	Outcome                 string          `json:"outcome"`
	StartedAt               time.Time       `json:"startedAt"`
	FinishedAt              *time.Time      `json:"finishedAt"`
	DurationSeconds         *float64        `json:"durationSeconds"`
	EstimatedMonthlyCostUSD *float64        `json:"estimatedMonthlyCostUSD"`
	Error                   string          `json:"error"`
	LogTail                 string          `json:"logTail"`
	PlanSummary             json.RawMessage `json:"planSummary"`
}

// ProjectPath is the API path of user's project ("" for the collection),
// and of what is under it (more: "runs", "approve", …).
func ProjectPath(user, project string, more ...string) string {
	p := "/api/v1/users/" + url.PathEscape(user) + "/projects"
	if project != "" {
		p += "/" + url.PathEscape(project)
	}
	for _, m := range more {
		p += "/" + m
	}
	return p
}

// GetProject reads one project.
func (c *Client) GetProject(ctx context.Context, user, project string) (Project, error) {
	var p Project
	_, err := c.GetJSON(ctx, ProjectPath(user, project), &p)
	return p, err
}

// ListProjects reads every page of user's projects.
func (c *Client) ListProjects(ctx context.Context, user string) ([]Project, error) {
	var out []Project
	after := ""
	for {
		path := ProjectPath(user, "")
		if after != "" {
			path += "?after=" + url.QueryEscape(after)
		}
		var page struct {
			Items []Project `json:"items"`
			Next  string    `json:"next"`
		}
		if _, err := c.GetJSON(ctx, path, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if page.Next == "" {
			return out, nil
		}
		after = page.Next
	}
}

// PutProject creates or replaces the project's spec. ifMatch, when not 0,
// must be the project's current generation (else a 412 *Error). created
// says the project is new.
func (c *Client) PutProject(ctx context.Context, user, project string, spec Spec, ifMatch int64) (p Project, created bool, err error) {
	var header http.Header
	if ifMatch != 0 {
		header = http.Header{"If-Match": {strconv.Quote(strconv.FormatInt(ifMatch, 10))}}
	}
	b, status, err := c.Do(ctx, http.MethodPut, ProjectPath(user, project), spec, header)
	if err != nil {
		return Project{}, false, err
	}
	return p, status == http.StatusCreated, json.Unmarshal(b, &p)
}

// DeleteProject requests the project's destruction (force: an admin's
// destroy from state alone that removes the project whatever happens).
func (c *Client) DeleteProject(ctx context.Context, user, project string, force bool) (Project, error) {
	path := ProjectPath(user, project)
	if force {
		path += "?force=true"
	}
	return c.projectCall(ctx, http.MethodDelete, path, nil)
}

// Extend moves the project's expiry to now + ttlMinutes (0: the server's
// default TTL).
func (c *Client) Extend(ctx context.Context, user, project string, ttlMinutes int) (Project, error) {
	body := map[string]any{}
	if ttlMinutes != 0 {
		body["ttlMinutes"] = ttlMinutes
	}
	return c.projectCall(ctx, http.MethodPost, ProjectPath(user, project, "extend"), body)
}

// Approve approves the saved plan of run runID, which must be the plan
// awaiting approval (status.pendingPlanRun).
func (c *Client) Approve(ctx context.Context, user, project string, runID int64) (Project, error) {
	return c.projectCall(ctx, http.MethodPost, ProjectPath(user, project, "approve"), map[string]int64{"runId": runID})
}

func (c *Client) projectCall(ctx context.Context, method, path string, body any) (Project, error) {
	b, _, err := c.Do(ctx, method, path, body, nil)
	if err != nil {
		return Project{}, err
	}
	var p Project
	return p, json.Unmarshal(b, &p)
}

// ListRuns reads the project's newest runs, newest first.
func (c *Client) ListRuns(ctx context.Context, user, project string, limit int) ([]Run, error) {
	var list struct {
		Items []Run `json:"items"`
	}
	_, err := c.GetJSON(ctx, ProjectPath(user, project, "runs")+"?limit="+strconv.Itoa(limit), &list)
	return list.Items, err
}

// GetRun reads one run with its plan and log tail.
func (c *Client) GetRun(ctx context.Context, user, project string, id int64) (Run, error) {
	var r Run
	_, err := c.GetJSON(ctx, ProjectPath(user, project, "runs", strconv.FormatInt(id, 10)), &r)
	return r, err
}

// Event is one server-sent event of a watch stream, as it came.
type Event struct {
	ID, Type string
	Data     json.RawMessage
}

// WatchEvent is a decoded project change: ADDED (the current state when a
// stream starts), MODIFIED or DELETED (Project then holds the final
// status, phase Destroyed).
type WatchEvent struct {
	Type    string
	Version string
	Project Project
}

// WatchProjects calls fn for each change of user's projects until ctx ends
// (nil) or fn fails; WatchProject does so for one project. A dropped
// connection is resumed from the last event seen.
func (c *Client) WatchProjects(ctx context.Context, user string, fn func(WatchEvent) error) error {
	return c.watch(ctx, ProjectPath(user, ""), fn)
}

// WatchProject is WatchProjects for one project.
func (c *Client) WatchProject(ctx context.Context, user, project string, fn func(WatchEvent) error) error {
	return c.watch(ctx, ProjectPath(user, project), fn)
}

func (c *Client) watch(ctx context.Context, path string, fn func(WatchEvent) error) error {
	return c.Stream(ctx, path, func(ev Event) error {
		var msg struct {
			Type   string  `json:"type"`
			Object Project `json:"object"`
		}
		if err := json.Unmarshal(ev.Data, &msg); err != nil {
			return fmt.Errorf("unexpected watch event: %w", err)
		}
		if msg.Type == "DELETED" {
			msg.Object.Status.Phase = "Destroyed"
		}
		return fn(WatchEvent{Type: msg.Type, Version: ev.ID, Project: msg.Object})
	})
}

// ReconnectWait is the pause before a dropped stream is resumed.
const ReconnectWait = time.Second

// Stream follows path?watch=true, calling fn for each event other than
// SYNC and keep-alives, until ctx ends (nil) or fn fails (its error).
func (c *Client) Stream(ctx context.Context, path string, fn func(Event) error) error {
	hc := &http.Client{Transport: c.http.Transport} // no timeout: a stream lasts
	lastID := ""
	for {
		connected, err := c.streamOnce(ctx, hc, path, &lastID, fn)
		if ctx.Err() != nil {
			return nil
		}
		var ae *Error
		var fe *callbackError
		switch {
		case errors.As(err, &ae):
			return err
		case errors.As(err, &fe):
			return fe.err
		case !connected:
			return fmt.Errorf("cannot watch at %s: %w", c.base, err)
		}
		if err := sleep(ctx, ReconnectWait); err != nil {
			return nil
		}
	}
}

// callbackError carries the caller's own failure out of a stream.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

func (c *Client) streamOnce(ctx context.Context, hc *http.Client, path string, lastID *string, fn func(Event) error) (connected bool, err error) {
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(c.base.String(), "/")+path+sep+"watch=true", nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	if *lastID != "" {
		req.Header.Set("Last-Event-ID", *lastID)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return false, decodeError(resp, b)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var ev Event
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.Type != "" {
				if ev.ID != "" {
					*lastID = ev.ID
				}
				if ev.Type != "SYNC" {
					if err := fn(ev); err != nil {
						return true, &callbackError{err}
					}
				}
			}
			ev = Event{}
		case strings.HasPrefix(line, "id: "):
			ev.ID = line[len("id: "):]
		case strings.HasPrefix(line, "event: "):
			ev.Type = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			ev.Data = json.RawMessage(line[len("data: "):])
		}
	}
	if err := sc.Err(); err != nil {
		return true, err
	}
	return true, io.EOF
}
