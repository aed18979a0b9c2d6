package metrics_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/encoding/protodelim"

	"github.com/tenantform/tenantform/metrics"
	"github.com/tenantform/tenantform/store"
)

// fixedSource answers every snapshot with the same figures: every family
// of the state collector has series.
type fixedSource struct{}

func (fixedSource) MetricsSnapshot(context.Context, int, int, time.Time) (store.MetricsSnapshot, error) {
	return store.MetricsSnapshot{
		ProjectsByPhase: map[store.Phase]int{store.PhaseReady: 2, store.PhaseFailed: 1},
		Projects: []store.ProjectFigures{
			{Key: store.Key{UserID: "alice", ProjectID: "web"}, EstimatedMonthlyCostUSD: 12.5, MaxMonthlyCostUSD: 25, SecondsToExpiry: 3600,
				Ready: true, Phases: map[store.Phase]int{store.PhaseReady: 1}, ActualMonthToDateUSD: 3.5},
			{Key: store.Key{UserID: "bob", ProjectID: "api"}, EstimatedMonthlyCostUSD: 2.25, MaxMonthlyCostUSD: 10, SecondsToExpiry: -5,
				Phases: map[store.Phase]int{store.PhaseFailed: 1}},
			{Key: store.Key{UserID: metrics.Other, ProjectID: metrics.Other}, EstimatedMonthlyCostUSD: 1, SecondsToExpiry: 60,
				Ready: true, Phases: map[store.Phase]int{store.PhaseReady: 1}},
		},
		Users: []store.UserFigures{
			{UserID: "alice", Projects: 1, Resources: 4, EstimatedMonthlyCostUSD: 12.5, MaxResources: 10},
			{UserID: "bob", Projects: 1, Resources: 1, EstimatedMonthlyCostUSD: 2.25, MaxResources: 10},
			{UserID: metrics.Other, Projects: 1, Resources: 2, EstimatedMonthlyCostUSD: 1, MaxResources: 10},
		},
		Runs:                         []store.RunCount{{Operation: store.OpApply, Outcome: store.OutcomeSucceeded, Count: 7}},
		TotalEstimatedMonthlyCostUSD: 15.75,
		QueueDepth:                   1,
		OldestWaitSeconds:            5,
		Outbox:                       []store.OutboxCount{{Channel: store.ChannelWebhook, Pending: 2, Failing: 1}},
		ActualCostsKnown:             true,
	}, nil
}

// buildLog records a State's events (metrics.SetStateEvents).
type buildLog struct {
	mu     sync.Mutex
	events []string
}

func (l *buildLog) record(e string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// take returns the events since the last take.
func (l *buildLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	es := l.events
	l.events = nil
	return es
}

// answer is one /metrics answer, uncompressed.
type answer struct {
	body                  []byte
	contentType, encoding string
}

func scrapeWith(t *testing.T, h http.Handler, target, accept, acceptEncoding string) answer {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape answered %d: %s", rec.Code, rec.Body)
	}
	a := answer{body: rec.Body.Bytes(), contentType: rec.Header().Get("Content-Type"), encoding: rec.Header().Get("Content-Encoding")}
	if a.encoding == "gzip" {
		// One gzip member, as any client can read (not several
		// concatenated, which some stop after the first of); its
		// checksum and length are checked at its end.
		in := bytes.NewReader(a.body)
		zr, err := gzip.NewReader(in)
		if err != nil {
			t.Fatalf("gzip answer: %v", err)
		}
		zr.Multistream(false)
		if a.body, err = io.ReadAll(zr); err != nil {
			t.Fatalf("gzip answer: %v", err)
		}
		if in.Len() != 0 {
			t.Fatalf("gzip answer: %d bytes after the first member", in.Len())
		}
	}
	return a
}

// familyNames are the families of an answer in the order served; it fails
// on a family served twice.
func familyNames(t *testing.T, a answer) []string {
	t.Helper()
	var names []string
	switch expfmt.ResponseFormat(http.Header{"Content-Type": {a.contentType}}).FormatType() {
	case expfmt.TypeProtoDelim:
		r := bufio.NewReader(bytes.NewReader(a.body))
		for {
			var mf dto.MetricFamily
			err := protodelim.UnmarshalFrom(r, &mf)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("protobuf answer: %v", err)
			}
			names = append(names, mf.GetName())
		}
	case expfmt.TypeTextPlain:
		for line := range strings.Lines(string(a.body)) {
			if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
				names = append(names, strings.Fields(name)[0])
			}
		}
		// The parser also refuses a family split in two.
		parser := expfmt.NewTextParser(model.UTF8Validation)
		if _, err := parser.TextToMetricFamilies(bytes.NewReader(a.body)); err != nil {
			t.Fatalf("text answer: %v", err)
		}
	default:
		t.Fatalf("unexpected Content-Type %q", a.contentType)
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Fatalf("%s served twice", n)
		}
		seen[n] = true
	}
	return names
}

// What clients ask for: Prometheus 3 (no OpenMetrics offered here, so it
// gets text), protobuf, text with underscore escaping, and nothing said.
var scrapeFormats = []string{
	"application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
	"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
	"text/plain;version=0.0.4;escaping=underscores",
	"",
}

// A scrape serves the state families of a reading exactly as promhttp
// serves them built afresh from the same reading, in every format and
// compression a client may ask for, followed by the live collectors, no
// family twice; what is built from a reading is built once, however many
// scrapes serve it, while the live collectors are gathered at each.
func TestScrapeServesAReadingBuiltOnce(t *testing.T) {
	t.Parallel()
	st := metrics.NewState(fixedSource{}, metrics.StateConfig{MaxAge: time.Minute, BudgetUSD: 100, Inventory: inventory{1, 2}})
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	metrics.SetStateClock(st, func() time.Time { return now }) // the reading stays young
	var log buildLog
	metrics.SetStateEvents(st, log.record)
	rec := metrics.NewReconciler(nil)
	h := metrics.Handler(metrics.NewRegistry("test", rec), st)
	// The same State collected by a registry: its families built
	// afresh at each scrape, from the reading it serves.
	fresh := prometheus.NewRegistry()
	fresh.MustRegister(st)
	freshHandler := promhttp.HandlerFor(fresh, promhttp.HandlerOpts{})

	reconciles := func(a answer) float64 {
		t.Helper()
		got := parseExposition(t, string(a.body))
		return got[`tenantform_reconciles_total{result="success"}`]
	}
	passes := 0.0
	for round := 1; round <= 2; round++ {
		for _, accept := range scrapeFormats {
			want := scrapeWith(t, freshHandler, "/metrics", accept, "")
			for _, enc := range []string{"gzip", "identity"} {
				rec.ObserveReconcile(metrics.ResultSuccess, time.Second)
				passes++
				got := scrapeWith(t, h, "/metrics", accept, enc)
				if got.encoding != map[string]string{"gzip": "gzip", "identity": ""}[enc] {
					t.Errorf("Accept-Encoding %s: answered in %q", enc, got.encoding)
				}
				if got.contentType != want.contentType {
					t.Errorf("Accept %q: Content-Type %q, promhttp says %q", accept, got.contentType, want.contentType)
				}
				if !bytes.HasPrefix(got.body, want.body) {
					t.Fatalf("Accept %q, %s: the state's part differs from a fresh build:\n%.3000s\nwant:\n%.3000s", accept, enc, got.body, want.body)
				}
				names := familyNames(t, got)
				for _, live := range []string{"tenantform_build_info", "tenantform_reconciles_total", "go_goroutines"} {
					if !slices.Contains(names, live) {
						t.Errorf("Accept %q, %s: no %s", accept, enc, live)
					}
				}
				if got.contentType == want.contentType && strings.HasPrefix(got.contentType, "text/plain") {
					// Live at every scrape: the counter moved on.
					if n := reconciles(got); n != passes {
						t.Errorf("reconciles served %v, want %v", n, passes)
					}
				}
			}
		}
		if round == 1 {
			// Gathered once, then encoded and compressed once per
			// format negotiated (promhttp's Content-Type, escaping
			// included).
			built := log.take()
			if n := count(built, "gather"); n != 1 {
				t.Errorf("the reading's families were gathered %d times, want once: %v", n, built)
			}
			formats := map[string]bool{}
			for _, accept := range scrapeFormats {
				formats[scrapeWith(t, freshHandler, "/metrics", accept, "").contentType] = true
			}
			for f := range formats {
				if n := count(built, "encode "+f); n != 1 {
					t.Errorf("encoded %d times in %s, want once: %v", n, f, built)
				}
				if n := count(built, "gzip "+f); n != 1 {
					t.Errorf("compressed %d times in %s, want once: %v", n, f, built)
				}
			}
			if len(built) != 1+2*len(formats) {
				t.Errorf("built %v, want one gathering and an encoding and a compression per format (%d)", built, len(formats))
			}
		}
	}
	if built := log.take(); len(built) != 0 {
		t.Errorf("the second round of scrapes of the same reading built %v, want nothing", built)
	}
}

func count(events []string, e string) int {
	n := 0
	for _, x := range events {
		if x == e {
			n++
		}
	}
	return n
}
