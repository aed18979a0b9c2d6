package crash

import (
	"bytes"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Proxy is a fault-injecting HTTP proxy in front of an AWS endpoint (the
// emulator). Every request is identified (Call) and passed on; a request
// that matches an armed Trap is carried out by the emulator, but its
// answer is held back until the test decides: Release delivers it, Drop
// breaks the connection without an answer. A client killed while its
// answer is held is exactly a process that died after AWS did what it
// asked and before it learned so.
//
// The proxy also attributes requests to projects: it reads every STS
// AssumeRole (its RoleSessionName and session tags) and the access key id
// of the answer, so a request signed with that key is the project's.
type Proxy struct {
	// URL is the proxy's endpoint, to give to clients instead of the
	// emulator's.
	URL string

	upstream *httputil.ReverseProxy
	server   *httptest.Server

	mu       sync.Mutex
	traps    []*Trap
	sessions map[string]string // access key id → "user/project"
	counts   map[string]int    // op → requests seen
	calls    []Call
}

// Call is one request as the proxy identified it.
type Call struct {
	// Service is the SigV4 signing service (s3, dynamodb, iam, logs,
	// sts, tagging).
	Service string
	// Op is the operation: S3 by method, path and query (CreateBucket,
	// PutBucketTagging, DeleteBucket, …), JSON protocols by X-Amz-Target,
	// query protocols (IAM, STS) by Action.
	Op string
	// Bucket is the bucket an S3 request names (path style), if any.
	Bucket string
	// AccessKeyID is the signing key (never a secret).
	AccessKeyID string
	// Project is "user/project" when the key is a project's session, ""
	// otherwise (tenantform's own calls, or an unknown key).
	Project string
	// RemoteAddr is the client's address (to find its process).
	RemoteAddr string
	At         time.Time
}

// Name is "service:Op".
func (c Call) Name() string { return c.Service + ":" + c.Op }

// Trap holds the answers to requests that match it.
type Trap struct {
	// Name says what the trap is for (a crash window).
	Name string
	// Held receives each matching request once the emulator has carried
	// it out and its answer is held.
	Held chan Call

	match    func(Call) bool
	decided  chan struct{}
	once     sync.Once
	mu       sync.Mutex
	drop     bool
	maxHold  time.Duration
	heldSeen int
}

// NewProxy starts a proxy in front of upstream on 127.0.0.1.
func NewProxy(upstream string) (*Proxy, error) {
	target, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	p := &Proxy{upstream: httputil.NewSingleHostReverseProxy(target), sessions: map[string]string{}, counts: map[string]int{}}
	p.server = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.server.URL
	return p, nil
}

// Close stops the proxy, delivering every held answer first.
func (p *Proxy) Close() {
	p.mu.Lock()
	traps := append([]*Trap(nil), p.traps...)
	p.mu.Unlock()
	for _, t := range traps {
		t.Release()
	}
	p.server.CloseClientConnections()
	p.server.Close()
}

// Arm adds a trap: the answers to requests matching match are held until
// Release or Drop, and at most maxHold (then delivered, so that a
// forgotten trap cannot wedge a run forever). Once decided, a trap is
// disarmed: later requests pass.
func (p *Proxy) Arm(name string, maxHold time.Duration, match func(Call) bool) *Trap {
	t := &Trap{Name: name, Held: make(chan Call, 64), match: match, decided: make(chan struct{}), maxHold: maxHold}
	p.mu.Lock()
	p.traps = append(p.traps, t)
	p.mu.Unlock()
	return t
}

// Release delivers every held answer and disarms the trap.
func (t *Trap) Release() { t.decide(false) }

// Drop breaks the connections of every held request without an answer
// and disarms the trap.
func (t *Trap) Drop() { t.decide(true) }

func (t *Trap) decide(drop bool) {
	t.once.Do(func() {
		t.mu.Lock()
		t.drop = drop
		t.mu.Unlock()
		close(t.decided)
	})
}

func (t *Trap) armed() bool {
	select {
	case <-t.decided:
		return false
	default:
		return true
	}
}

// Counts returns how many requests of each operation ("service:Op") the
// proxy has seen.
func (p *Proxy) Counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.counts)
}

// Calls returns every request seen so far, oldest first.
func (p *Proxy) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Call(nil), p.calls...)
}

// Sessions returns the projects' session keys seen so far, sorted by
// project.
func (p *Proxy) Sessions() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.sessions)
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	c := Identify(r, body)
	c.RemoteAddr = r.RemoteAddr
	c.At = time.Now()

	p.mu.Lock()
	c.Project = p.sessions[c.AccessKeyID]
	p.counts[c.Name()]++
	p.calls = append(p.calls, c)
	var trap *Trap
	for _, t := range p.traps {
		if t.armed() && t.match(c) {
			trap = t
			break
		}
	}
	p.mu.Unlock()

	rec := httptest.NewRecorder()
	p.upstream.ServeHTTP(rec, r)
	if c.Service == "sts" && c.Op == "AssumeRole" && rec.Code == http.StatusOK {
		p.learnSession(body, rec.Body.Bytes())
	}
	if trap != nil {
		select {
		case trap.Held <- c:
		default:
		}
		timer := time.NewTimer(trap.maxHold)
		defer timer.Stop()
		select {
		case <-trap.decided:
			trap.mu.Lock()
			drop := trap.drop
			trap.mu.Unlock()
			if drop {
				// Break the connection: the client never learns what
				// happened.
				panic(http.ErrAbortHandler)
			}
		case <-timer.C:
		case <-r.Context().Done():
			return
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	w.Write(rec.Body.Bytes())
}

var (
	accessKeyInAnswer = regexp.MustCompile(`<AccessKeyId>([^<]+)</AccessKeyId>`)
	projectSession    = regexp.MustCompile(`^chart-app-(.+)$`)
)

// learnSession records whose an AssumeRole's key is: the session tags
// UserId and ProjectId when present, else the RoleSessionName.
func (p *Proxy) learnSession(request, answer []byte) {
	m := accessKeyInAnswer.FindSubmatch(answer)
	if m == nil {
		return
	}
	form, err := url.ParseQuery(string(request))
	if err != nil {
		return
	}
	tags := map[string]string{}
	for i := 1; form.Has(tagKey(i)); i++ {
		tags[form.Get(tagKey(i))] = form.Get(strings.Replace(tagKey(i), ".Key", ".Value", 1))
	}
	owner := ""
	switch {
	case tags["UserId"] != "" && tags["ProjectId"] != "":
		owner = tags["UserId"] + "/" + tags["ProjectId"]
	case projectSession.MatchString(form.Get("RoleSessionName")):
		owner = "session:" + form.Get("RoleSessionName")
	default:
		return // tenantform's own session
	}
	p.mu.Lock()
	p.sessions[string(m[1])] = owner
	p.mu.Unlock()
}

func tagKey(i int) string { return "Tags.member." + strconv.Itoa(i) + ".Key" }

// Identify names the AWS operation of a request from what is on the wire.
func Identify(r *http.Request, body []byte) Call {
	c := Call{Service: scopePart(r, 3), AccessKeyID: scopePart(r, 0)}
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		// JSON protocols: DynamoDB_20120810.CreateTable,
		// Logs_20140328.CreateLogGroup,
		// ResourceGroupsTaggingAPI_20170126.GetResources.
		_, op, _ := strings.Cut(target, ".")
		c.Op = op
		return c
	}
	if op, ok := strings.CutPrefix(r.URL.Path, "/service/ResourceGroupsTaggingAPI_20170126/operation/"); ok {
		c.Op = op // Smithy RPC v2 CBOR
		return c
	}
	if c.Service == "s3" {
		c.Op, c.Bucket = s3Operation(r)
		return c
	}
	// Query protocols (IAM, STS): the Action of the form body, or of the
	// query string.
	if form, err := url.ParseQuery(string(body)); err == nil && form.Get("Action") != "" {
		c.Op = form.Get("Action")
		return c
	}
	c.Op = r.URL.Query().Get("Action")
	if c.Op == "" {
		c.Op = r.Method + " " + r.URL.Path
	}
	return c
}

// s3Operation names a path-style S3 request: the bucket from the first
// path segment, the operation from the method, whether an object key
// follows, and the sub-resource in the query (?tagging, ?versioning…).
func s3Operation(r *http.Request) (op, bucket string) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	var sub []string
	for k := range r.URL.Query() {
		switch k {
		case "x-id", "list-type", "prefix", "delimiter", "max-keys", "continuation-token", "encoding-type", "fetch-owner", "start-after", "bucket-region", "max-buckets":
			continue // parameters, not sub-resources
		}
		sub = append(sub, k)
	}
	sort.Strings(sub)
	suffix := ""
	if len(sub) > 0 {
		suffix = strings.ToUpper(sub[0][:1]) + sub[0][1:]
	}
	if bucket == "" {
		return "ListBuckets", ""
	}
	object := key != ""
	switch r.Method {
	case http.MethodPut:
		switch {
		case object:
			return "PutObject", bucket
		case suffix == "":
			return "CreateBucket", bucket
		default:
			return "PutBucket" + suffix, bucket
		}
	case http.MethodDelete:
		switch {
		case object:
			return "DeleteObject", bucket
		case suffix == "":
			return "DeleteBucket", bucket
		default:
			return "DeleteBucket" + suffix, bucket
		}
	case http.MethodHead:
		if object {
			return "HeadObject", bucket
		}
		return "HeadBucket", bucket
	case http.MethodGet:
		switch {
		case object:
			return "GetObject", bucket
		case suffix == "":
			return "ListObjects", bucket
		default:
			return "GetBucket" + suffix, bucket
		}
	case http.MethodPost:
		if suffix == "Delete" {
			return "DeleteObjects", bucket
		}
		return "Post" + suffix, bucket
	}
	return r.Method, bucket
}

// scopePart reads the SigV4 credential scope of the Authorization header
// (Credential=AKID/date/region/service/aws4_request).
func scopePart(r *http.Request, i int) string {
	auth := r.Header.Get("Authorization")
	idx := strings.Index(auth, "Credential=")
	if idx < 0 {
		return ""
	}
	scope := auth[idx+len("Credential="):]
	if end := strings.IndexAny(scope, ", "); end >= 0 {
		scope = scope[:end]
	}
	parts := strings.Split(scope, "/")
	if len(parts) != 5 {
		return ""
	}
	return parts[i]
}
