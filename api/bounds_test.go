package api

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantform/tenantform/store"
)

// TestHugeStoredStatusGivesSmallResponses stores, as a reconciler would, a
// status whose outputs are 40 MB (4 MB without the e2e tag) (and a huge message, error, conditions
// and a run of a few MB): every response about the project stays under 1 MiB, keeps
// what fits, and lists what it left out with its size.
func TestHugeStoredStatusGivesSmallResponses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := t.Context()
	alice, root := e.token("alice", false), e.token("root", true)
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)

	huge := strings.Repeat("x", hugeOutputBytes)
	many := make([]store.Condition, 40)
	for i := range many {
		many[i] = store.Condition{Type: "C" + strconv.Itoa(i), Status: "True", Message: strings.Repeat("m", 8<<10)}
	}
	p := e.reconciled(keyAliceDemo, store.Status{
		Phase:   store.PhaseReady,
		Outputs: map[string]any{"big": huge, "small": "kept", "list": []any{1, 2, 3}},
		Message: strings.Repeat("é", 64<<10), LastError: strings.Repeat("e", 512<<10),
		Conditions: many,
	})
	ref, err := e.st.StartRun(ctx, p, p.LeaseToken, store.OpApply, "Spec", "r1", "test", t0)
	if err != nil {
		t.Fatal(err)
	}
	runID := ref.Number
	if err := e.st.FinishRun(ctx, ref.RowID, store.RunResult{
		Outcome:      store.OutcomeFailed,
		PlanSummary:  map[string]any{"resources": huge[:maxPlanDocumentBytes]},
		CostEstimate: map[string]any{"lines": []string{huge[:maxPlanDocumentBytes]}},
		LogTail:      strings.Repeat("log line\n", 256<<10) + "the end",
		Error:        huge[:maxMessageBytes+1],
	}, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}

	run := "/runs/" + strconv.FormatInt(runID, 10)
	bodies := map[string]result{}
	for _, tc := range []struct{ path, token string }{
		{projectPathAliceDemo, alice},
		{"/api/v1/users/alice/projects", alice},
		{"/api/v1/projects", root},
		{projectPathAliceDemo + "/runs", alice},
		{projectPathAliceDemo + run, alice},
	} {
		r := e.do("GET", tc.path, tc.token, nil)
		r.wantStatus(t, http.StatusOK)
		if len(r.body) >= 1<<20 {
			t.Errorf("GET %s: %d bytes, want under 1 MiB", tc.path, len(r.body))
		}
		bodies[tc.path] = r
	}

	var got struct {
		Status struct {
			Outputs    map[string]any    `json:"outputs"`
			Conditions []store.Condition `json:"conditions"`
			LastError  string            `json:"lastError"`
			Omitted    []omission        `json:"omitted"`
		} `json:"status"`
	}
	bodies[projectPathAliceDemo].decode(t, &got)
	if got.Status.Outputs["small"] != "kept" || len(got.Status.Outputs["list"].([]any)) != 3 {
		t.Errorf("outputs that fit were not kept: %v", got.Status.Outputs)
	}
	if _, ok := got.Status.Outputs["big"]; ok {
		t.Error("the huge output is in the response")
	}
	omitted := map[string]omission{}
	for _, o := range got.Status.Omitted {
		omitted[o.Field] = o
	}
	if o := omitted["outputs.big"]; o.Bytes != len(huge)+2 || o.Limit != maxOutputBytes || o.How != "omitted" {
		t.Errorf("omitted says %+v for outputs.big, want its size (quoted) and the limit", o)
	}
	if o := omitted["lastError"]; o.Bytes != 512<<10 || o.How != "truncated" || !strings.HasPrefix(got.Status.LastError, "eeee") {
		t.Errorf("lastError: omitted %+v, value starts %.20q", o, got.Status.LastError)
	}
	if len(got.Status.Conditions) != maxConditions || omitted["conditions"].Bytes != 40 {
		t.Errorf("%d conditions shown, omitted %+v", len(got.Status.Conditions), omitted["conditions"])
	}

	var rv struct {
		LogTail     string     `json:"logTail"`
		PlanSummary any        `json:"planSummary"`
		Omitted     []omission `json:"omitted"`
	}
	bodies[projectPathAliceDemo+run].decode(t, &rv)
	if !strings.HasSuffix(rv.LogTail, "log line\nthe end") || len(rv.LogTail) > maxLogTailBytes+100 {
		t.Errorf("logTail keeps %d bytes ending %q; want its last %d", len(rv.LogTail), rv.LogTail[len(rv.LogTail)-20:], maxLogTailBytes)
	}
	if rv.PlanSummary != nil {
		t.Error("the oversized plan summary is in the response")
	}
	fields := map[string]bool{}
	for _, o := range rv.Omitted {
		fields[o.Field] = true
	}
	for _, f := range []string{"logTail", "planSummary", "costEstimate", "error"} {
		if !fields[f] {
			t.Errorf("the run's omitted does not list %s: %+v", f, rv.Omitted)
		}
	}
}

func TestLimiterCutsOnRuneBoundaries(t *testing.T) {
	t.Parallel()
	var l limiter
	s := strings.Repeat("é", 10) // 20 bytes
	if h := l.head("m", s, 5); !strings.HasPrefix(h, "éé…") {
		t.Errorf("head = %q", h)
	}
	if tl := l.tail("m", s, 5); !strings.HasSuffix(tl, "…éé") {
		t.Errorf("tail = %q", tl)
	}
	if h := l.head("m", "short", 5); h != "short" || len(l.omitted) != 2 {
		t.Errorf("head of a short string = %q, omitted %v", h, l.omitted)
	}
}

// TestListPagesStayUnderOneMiB: projects with large (but allowed) specs
// fill a page only up to 1 MiB; next continues where the page stopped, so
// every project is still listed exactly once.
func TestListPagesStayUnderOneMiB(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.token("alice", false)
	for i := range 5 {
		big := spec(i)
		big["files"].(map[string]string)["big.tf"] = "# " + strings.Repeat("x", 300<<10)
		e.do("PUT", "/api/v1/users/alice/projects/p"+strconv.Itoa(i), alice, big).wantStatus(t, http.StatusCreated)
	}
	var names []string
	pages := 0
	for after := ""; ; {
		r := e.do("GET", "/api/v1/users/alice/projects?limit=100&after="+after, alice, nil)
		r.wantStatus(t, http.StatusOK)
		if len(r.body) > maxListPageBytes {
			t.Errorf("a page of %d bytes", len(r.body))
		}
		var page struct {
			Items []project `json:"items"`
			Next  string    `json:"next"`
		}
		r.decode(t, &page)
		for _, p := range page.Items {
			names = append(names, p.ProjectID)
		}
		pages++
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if strings.Join(names, ",") != "p0,p1,p2,p3,p4" || pages != 2 {
		t.Errorf("listed %v in %d pages, want p0..p4 in 2 pages of at most 1 MiB", names, pages)
	}
}
