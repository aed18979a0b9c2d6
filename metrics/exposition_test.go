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
	"sync/atomic"
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

// kinds are events without their format: "gather", "encode", "gzip",
// "refreshed".
func kinds(events []string) []string {
	var ks []string
	for _, e := range events {
		ks = append(ks, strings.Fields(e)[0])
	}
	return ks
}

// A new reading is served once it arrives. One made in the background is
// built in the formats the last one was served in before it is stored, so
// the scrapes after it build nothing; one too old is read, then built, by
// the scrape that finds it so.
func TestScrapeServesEachNewReading(t *testing.T) {
	t.Parallel()
	src := &countingSource{read: make(chan int, 10)}
	st := metrics.NewState(src, metrics.StateConfig{MaxAge: 30 * time.Second})
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	var clockMu sync.Mutex
	metrics.SetStateClock(st, func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now })
	advance := func(d time.Duration) { clockMu.Lock(); now = now.Add(d); clockMu.Unlock() }
	events := make(chan string, 100)
	metrics.SetStateEvents(st, func(e string) { events <- e })
	h := metrics.Handler(metrics.NewRegistry("test"), st)
	ready := func() float64 {
		t.Helper()
		a := scrapeWith(t, h, "/metrics", "", "gzip")
		return parseExposition(t, string(a.body))[`tenantform_projects{phase="Ready"}`]
	}
	// Builds on a scrape's path happen before it answers: what is in
	// the channel once it did is all of them.
	built := func() []string {
		var es []string
		for {
			select {
			case e := <-events:
				es = append(es, e)
			default:
				return kinds(es)
			}
		}
	}
	want := func(what string, got, want []string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: built %q, want %q", what, got, want)
		}
	}

	if got := ready(); got != 1 {
		t.Fatalf("first scrape: %v, want 1", got)
	}
	want("first scrape", built(), []string{"gather", "encode", "gzip"})
	advance(5 * time.Second)
	if got := ready(); got != 1 {
		t.Fatalf("scrape at 5 s: %v, want the reading of 0 s", got)
	}
	want("scrape of the same reading", built(), nil)

	advance(5 * time.Second)
	if got := ready(); got != 1 { // a third of its age: served, and read again behind it
		t.Fatalf("scrape at 10 s: %v, want the reading of 0 s", got)
	}
	var background []string
	for len(background) == 0 || background[len(background)-1] != "refreshed" {
		select {
		case e := <-events:
			background = append(background, e)
		case <-time.After(10 * time.Second):
			t.Fatalf("the background reading was never stored; events %q", background)
		}
	}
	want("the background reading", kinds(background), []string{"gather", "encode", "gzip", "refreshed"})
	for range 2 {
		if got := ready(); got != 2 {
			t.Fatalf("scrape after the background reading: %v, want it (2)", got)
		}
		want("scrape of the background reading", built(), nil)
	}

	advance(time.Minute)
	if got := ready(); got != 3 { // too old: the scrape reads, and builds
		t.Fatalf("scrape at 80 s: %v, want a new reading (3)", got)
	}
	want("scrape of a reading too old", built(), []string{"gather", "encode", "gzip"})
}

// Scrapes at once of a new reading build it once and serve the same; a
// scrape serves the reading it started with whole, even when a newer one
// replaces it meanwhile.
func TestConcurrentScrapesShareAReading(t *testing.T) {
	t.Parallel()
	src := &countingSource{read: make(chan int, 10)}
	st := metrics.NewState(src, metrics.StateConfig{MaxAge: 30 * time.Second})
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	var clockMu sync.Mutex
	metrics.SetStateClock(st, func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now })
	var log buildLog
	// Once armed, the next encoding waits until the test lets it go.
	var armed atomic.Bool
	encoding, release := make(chan struct{}), make(chan struct{})
	metrics.SetStateEvents(st, func(e string) {
		log.record(e)
		if strings.HasPrefix(e, "encode") && armed.CompareAndSwap(true, false) {
			close(encoding)
			<-release
		}
	})
	// No Go runtime collector: its figures would differ between scrapes.
	h := metrics.Handler(prometheus.NewRegistry(), st)
	serve := func() []byte { // no t.Fatal off the test's goroutine
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		return rec.Body.Bytes()
	}
	ready := func(body []byte) float64 {
		t.Helper()
		return parseExposition(t, string(body))[`tenantform_projects{phase="Ready"}`]
	}

	bodies := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range bodies {
		wg.Go(func() { bodies[i] = serve() })
	}
	wg.Wait()
	for i, b := range bodies {
		if got := ready(b); got != 1 || !bytes.Equal(b, bodies[0]) {
			t.Errorf("scrape %d at once: %v, want the one reading (1) as the others were served", i, got)
		}
	}
	if got := kinds(log.take()); !slices.Equal(got, []string{"gather", "encode"}) {
		t.Errorf("eight scrapes at once built %q, want one gathering and one encoding", got)
	}

	// A scrape of reading 2 holds while encoding it; meanwhile reading 3
	// replaces it.
	clockMu.Lock()
	now = now.Add(time.Minute)
	clockMu.Unlock()
	armed.Store(true)
	held := make(chan []byte)
	go func() { held <- serve() }()
	<-encoding
	clockMu.Lock()
	now = now.Add(time.Minute)
	clockMu.Unlock()
	if got := ready(serve()); got != 3 {
		t.Fatalf("a scrape once reading 2 is too old: %v, want reading 3", got)
	}
	close(release)
	if got := ready(<-held); got != 2 {
		t.Errorf("the held scrape served %v, want the reading it started with (2)", got)
	}
}

// gzip is chosen as promhttp chooses it.
func TestAcceptsGzip(t *testing.T) {
	for header, want := range map[string]bool{
		"":                          false,
		"gzip":                      true,
		"gzip, deflate, br, zstd":   true,
		"GZip":                      true,
		"br":                        false,
		"gzip;q=0":                  false,
		"identity, gzip;q=0.5":      false,
		"identity;q=0.5, gzip;q=.8": true,
		"*":                         false, // identity, offered first, is as good
		"identity;q=0, *":           false, // for promhttp, * names identity too
		"identity;q=0, gzip;q=0.1":  true,
		"*;q=0":                     false,
	} {
		h := http.Header{}
		if header != "" {
			h.Set("Accept-Encoding", header)
		}
		if got := metrics.AcceptsGzip(h); got != want {
			t.Errorf("Accept-Encoding %q: gzip %v, want %v", header, got, want)
		}
	}
}

// uncheckedProjects is a collector that describes nothing and exports a
// family of the state's name: a registry cannot refuse it.
type uncheckedProjects struct{}

func (uncheckedProjects) Describe(chan<- *prometheus.Desc) {}
func (uncheckedProjects) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("tenantform_projects", "Projects by phase.", []string{"phase"}, nil),
		prometheus.GaugeValue, 99, "Ready")
}

// A family of the state's names cannot come twice: a collector
// describing one is refused by the registry, as is the state collector
// itself; one that describes nothing is left out of the answer and
// counted as an error.
func TestStateFamiliesCannotBeServedTwice(t *testing.T) {
	t.Parallel()
	st := metrics.NewState(fixedSource{}, metrics.StateConfig{})
	reg := metrics.NewRegistry("test")
	h := metrics.Handler(reg, st)
	if err := reg.Register(prometheus.NewGauge(prometheus.GaugeOpts{Name: "tenantform_state_up", Help: "Another."})); err == nil {
		t.Error("a collector of a state family was registered next to the state's")
	}
	if err := reg.Register(uncheckedProjects{}); err != nil {
		t.Fatal(err)
	}
	for i, enc := range []string{"", "gzip"} {
		got := parseExposition(t, string(scrapeWith(t, h, "/metrics", "", enc).body))
		if got[`tenantform_projects{phase="Ready"}`] != 2 {
			t.Errorf("tenantform_projects{phase=\"Ready\"} = %v, want the state's 2", got[`tenantform_projects{phase="Ready"}`])
		}
		// A scrape serves the errors counted before it, 0 included.
		if errs, ok := got[`promhttp_metric_handler_errors_total{cause="gathering"}`]; !ok || errs != float64(i) {
			t.Errorf("scrape %d: %v gathering errors counted (served: %v), want %d", i+1, errs, ok, i)
		}
		if _, ok := got[`promhttp_metric_handler_errors_total{cause="encoding"}`]; !ok {
			t.Errorf("scrape %d: no encoding errors series, want it at 0", i+1)
		}
	}

	withState := metrics.NewRegistry("test", st)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Handler served a state collector also registered on its registry")
			}
		}()
		metrics.Handler(withState, st)
	}()
}

// A scrape naming the families it wants (?name[]=) gets those, the
// state's from the reading's cache.
func TestScrapeOfNamedFamilies(t *testing.T) {
	t.Parallel()
	st := metrics.NewState(fixedSource{}, metrics.StateConfig{})
	h := metrics.Handler(metrics.NewRegistry("test"), st)
	a := scrapeWith(t, h, "/metrics?name[]=tenantform_projects&name[]=tenantform_build_info", "", "gzip")
	if got := familyNames(t, a); !slices.Equal(got, []string{"tenantform_build_info", "tenantform_projects"}) {
		t.Errorf("served %v, want tenantform_build_info and tenantform_projects", got)
	}
}
