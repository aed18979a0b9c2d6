package metrics

import (
	"bytes"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Handler serves /metrics: reg's collectors (the Go runtime, the process,
// build info, the reconciler's and the API's metrics), gathered at every
// scrape, then, when state is not nil, the state collector's families.
// Those are built once per reading of the database (see StateConfig.MaxAge):
// gathered, then encoded and compressed once per format a client asks
// for, and served as they are until the next reading replaces them, so a
// scrape between two readings costs the live collectors and a copy (at
// 10,000 projects, 14,000 series: building and encoding them took longer
// than the 50 ms a scrape may take).
//
// state must not be registered on reg: Handler registers its descriptions
// there (not its metrics), so that a collector of reg exporting a family
// of the state's names is refused at registration, as it would be if
// state were registered. It panics if state is registered on reg itself.
//
// A collector's failure does not fail the scrape: what could be gathered
// is served, and promhttp_metric_handler_errors_total counts the failure.
func Handler(reg *prometheus.Registry, state *State) http.Handler {
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "promhttp_metric_handler_errors_total",
		Help: "Total number of internal errors encountered by the promhttp metric handler.",
	}, []string{"cause"})
	// promhttp registers this very counter on reg; registered first, it
	// is the one promhttp finds and counts in too. Its two series exist
	// from the start, at 0, as promhttp makes them (an alert on their
	// increase needs the 0 before the first error).
	if err := reg.Register(errs); err != nil {
		are, ok := err.(prometheus.AlreadyRegisteredError)
		if !ok {
			panic(err)
		}
		errs = are.ExistingCollector.(*prometheus.CounterVec)
	}
	errs.WithLabelValues("gathering")
	errs.WithLabelValues("encoding")
	opts := promhttp.HandlerOpts{Registry: reg, ErrorHandling: promhttp.ContinueOnError}
	if state == nil {
		return promhttp.HandlerFor(reg, opts)
	}
	if err := reg.Register(stateNames{state}); err != nil {
		are, ok := err.(prometheus.AlreadyRegisteredError)
		if !ok || are.ExistingCollector != (stateNames{state}) {
			panic("metrics: the state collector cannot be served with this registry (registered on it, or a collector of it exports the same families): " + err.Error())
		}
	}
	h := &handler{live: reg, state: state, errs: errs}
	h.filtered = promhttp.HandlerFor(prometheus.GathererFunc(h.gatherAll), opts)
	return h
}

// stateNames reserves the state collector's family names on the registry
// of the live collectors: it describes them and collects nothing.
type stateNames struct{ s *State }

func (n stateNames) Describe(ch chan<- *prometheus.Desc) { n.s.Describe(ch) }
func (n stateNames) Collect(chan<- prometheus.Metric)    {}

type handler struct {
	live  *prometheus.Registry
	state *State
	errs  *prometheus.CounterVec
	// filtered serves the rare scrape naming the families it wants
	// (?name[]=…), from the same cached state families, through promhttp.
	filtered http.Handler
}

// The formats a scrape may ask for (Accept) are promhttp's defaults:
// protobuf, its text forms, and the text format 0.0.4 (no OpenMetrics).
// Each is a stream of independent families, so the state's part encoded
// once followed by the live part encoded now is one valid answer; an
// encoder that closes its stream (OpenMetrics' "# EOF") closes it after
// the live part, the last. The compressions are promhttp's defaults too:
// gzip (see gzipjoin.go), else none.
func (h *handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL != nil && req.URL.Query().Has("name[]") {
		h.filtered.ServeHTTP(w, req)
		return
	}
	format := expfmt.NegotiateAccept(req.Header, expfmt.DefaultAcceptedFormats()...)
	gz := acceptsGzip(req.Header)
	part, err := h.state.exposition(format, gz)
	if err != nil {
		h.errs.WithLabelValues("gathering").Inc()
	}
	live, err := h.live.Gather()
	if err != nil {
		h.errs.WithLabelValues("gathering").Inc()
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, format)
	for _, mf := range live {
		// Impossible for a collector that describes its families (the
		// names are reserved on reg); an unchecked one could still.
		if part.names[mf.GetName()] {
			h.errs.WithLabelValues("gathering").Inc()
			continue
		}
		if enc.Encode(mf) != nil {
			h.errs.WithLabelValues("encoding").Inc()
		}
	}
	if c, ok := enc.(expfmt.Closer); ok && c.Close() != nil {
		h.errs.WithLabelValues("encoding").Inc()
	}

	header := w.Header()
	header.Add("Vary", "Accept")
	header.Add("Vary", "Accept-Encoding")
	header.Set("Content-Type", string(format))
	// A failed write (the scraper went away) counts as promhttp counts it.
	if gz {
		header.Set("Content-Encoding", "gzip")
		if writeGzip(w, part.deflated, buf.Bytes()) != nil {
			h.errs.WithLabelValues("encoding").Inc()
		}
		return
	}
	if _, err := w.Write(part.plain); err != nil {
		h.errs.WithLabelValues("encoding").Inc()
		return
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		h.errs.WithLabelValues("encoding").Inc()
	}
}

// gatherAll is every family, the state's from the current reading's cache
// and the live collectors' gathered now, for promhttp to filter.
func (h *handler) gatherAll() ([]*dto.MetricFamily, error) {
	state, names, err := h.state.families(h.state.reading())
	live, lerr := h.live.Gather()
	if err == nil {
		err = lerr
	}
	all := slices.Clone(state)
	for _, mf := range live {
		if !names[mf.GetName()] {
			all = append(all, mf)
		}
	}
	slices.SortFunc(all, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return all, err
}

// exposedReading is what scrapes serve of one reading: its families,
// gathered once (sorted and checked by a registry), then encoded once per
// format and compressed once. A reading never changes, so neither does
// what is built from it; a new reading starts empty, and a scrape that
// still serves the old one holds it until it is done.
type exposedReading struct {
	// mu is held while building, so that concurrent scrapes of a new
	// reading build it once.
	mu        sync.Mutex
	gathered  bool
	families  []*dto.MetricFamily
	names     map[string]bool
	gatherErr error
	// encoded has one entry per format negotiated, escaping included: a
	// handful at most (expfmt ignores escapings it does not know).
	encoded map[expfmt.Format]*encodedFamilies
}

// encodedFamilies are a reading's families in one format.
type encodedFamilies struct {
	names map[string]bool
	plain []byte
	// deflated is plain compressed once, for gzip; nil until asked for.
	deflated *deflatedHead
	// scraped and scrapedGzip say a scrape asked for this format, and
	// compressed (warm builds only those for the next reading).
	scraped, scrapedGzip bool
}

// families returns r's families and their names, gathering them once.
func (s *State) families(r *stateReading) ([]*dto.MetricFamily, map[string]bool, error) {
	e := &r.exposed
	e.mu.Lock()
	defer e.mu.Unlock()
	s.gather(r)
	return e.families, e.names, e.gatherErr
}

// gather gathers r's families unless done. The caller holds r.exposed.mu.
func (s *State) gather(r *stateReading) {
	e := &r.exposed
	if e.gathered {
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(readingCollector{s, r})
	e.families, e.gatherErr = reg.Gather()
	e.names = map[string]bool{}
	for _, mf := range e.families {
		e.names[mf.GetName()] = true
	}
	e.gathered = true
	s.event("gather")
}

// exposition is the current reading's families in format, compressed
// for gzip when gz, built unless already built.
func (s *State) exposition(format expfmt.Format, gz bool) (*encodedFamilies, error) {
	return s.encode(s.reading(), format, gz, true)
}

// encode builds r's families in format (and gzip when gz) unless built.
// scrape says a scrape asked for them, which the next reading's warm-up
// follows; what warm built itself it does not carry on, so a format one
// client asked for once is not built for every reading after.
func (s *State) encode(r *stateReading, format expfmt.Format, gz, scrape bool) (*encodedFamilies, error) {
	e := &r.exposed
	e.mu.Lock()
	defer e.mu.Unlock()
	s.gather(r)
	ef := e.encoded[format]
	if ef == nil {
		var buf bytes.Buffer
		enc := expfmt.NewEncoder(&buf, format)
		for _, mf := range e.families {
			// Our own families in a format promhttp offers: an error
			// here is a bug, and the family is left out as promhttp
			// would.
			enc.Encode(mf)
		}
		ef = &encodedFamilies{names: e.names, plain: bytes.Clone(buf.Bytes())}
		if e.encoded == nil {
			e.encoded = map[expfmt.Format]*encodedFamilies{}
		}
		e.encoded[format] = ef
		s.event("encode " + string(format))
	}
	if gz && ef.deflated == nil {
		ef.deflated = deflate(ef.plain)
		s.event("gzip " + string(format))
	}
	if scrape {
		ef.scraped = true
		ef.scrapedGzip = ef.scrapedGzip || gz
	}
	return ef, e.gatherErr
}

// warm builds in r what scrapes were served of last: its formats, and
// gzip where it was asked for.
func (s *State) warm(r, last *stateReading) {
	type served struct {
		format expfmt.Format
		gz     bool
	}
	var ss []served
	last.exposed.mu.Lock()
	for f, ef := range last.exposed.encoded {
		if ef.scraped {
			ss = append(ss, served{f, ef.scrapedGzip})
		}
	}
	last.exposed.mu.Unlock()
	for _, x := range ss {
		s.encode(r, x.format, x.gz, false)
	}
}

func (s *State) event(e string) {
	if s.events != nil {
		s.events(e)
	}
}

// readingCollector collects the families of one reading.
type readingCollector struct {
	s *State
	r *stateReading
}

func (c readingCollector) Describe(ch chan<- *prometheus.Desc) { c.s.Describe(ch) }
func (c readingCollector) Collect(ch chan<- prometheus.Metric) { c.s.collect(c.r, ch) }
