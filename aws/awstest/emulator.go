// Package awstest runs an AWS emulator for tests and dev mode: the kumo
// emulator (github.com/sivchari/kumo) in-process, behind one loopback URL
// that adds what kumo lacks:
//
//   - the Resource Groups Tagging API's GetResources (tagging.go), in both
//     its JSON 1.1 and its RPC v2 CBOR protocol, answered from what exists
//     in kumo, read through the real SDK clients;
//   - a record of every STS request (ExternalId, RoleSessionName, tags),
//     an optional ExternalId check that answers AccessDenied as AWS does,
//     and injected STS failures (throttling);
//   - a count of GetResources calls per region;
//   - what the real hashicorp/aws provider calls and kumo answers
//     differently from AWS or not at all: a new bucket's default
//     encryption, public access block and object ownership
//     (s3defaults.go); AWS managed IAM policies, GetPolicyVersion and
//     ListRoleTags (iam.go); Lambda's published versions (lambda.go); a
//     provisioned table's updated capacity (dynamodb.go).
//     Each request's answer status is recorded
//     (Requests), so a test sees what the emulator refused.
//
// Everything else goes to kumo unchanged. Point SDK clients (BaseEndpoint
// or AWS_ENDPOINT_URL) and terraform's provider endpoints at URL.
//
// Billing (billing.go), a separate fake, answers the Price List API's
// GetProducts and Cost Explorer's GetCostAndUsage, which kumo lacks.
package awstest

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/sivchari/kumo"
)

// Region is where kumo keeps everything (it has a single region; S3
// buckets, which carry no region in their ARN, are listed there).
const Region = "us-east-1"

// AccountID is kumo's account.
const AccountID = "000000000000"

// Emulator is an in-process AWS endpoint on 127.0.0.1.
type Emulator struct {
	// URL is the endpoint of every service ("http://127.0.0.1:port").
	URL string

	kumo  *kumo.Server
	front *httptest.Server

	mu           sync.Mutex
	stsCalls     []STSCall
	externalID   *string
	stsFailures  []injectedFailure
	taggingCalls map[string]int
	pages        listingPages
	requests     []Request
	holds        []*Hold

	iam      iamState
	s3       s3State
	lambda   lambdaState
	dynamodb dynamoDBState
}

// Hold keeps the answers to matching requests back (HoldAnswers).
type Hold struct {
	match func(Request) bool
	// Held receives each matching request once it has been carried out
	// and its answer is being held.
	Held    chan Request
	release chan struct{}
	once    sync.Once
}

// Release lets every held answer, and later ones, through.
func (h *Hold) Release() { h.once.Do(func() { close(h.release) }) }

// HoldAnswers makes the emulator carry out the requests that match but
// keep their answers back until Release (or the client gives up): what a
// client sees when it dies in the middle of a call that has already taken
// effect. The hold is released when the test ends.
func (e *Emulator) HoldAnswers(t testing.TB, match func(Request) bool) *Hold {
	h := &Hold{match: match, Held: make(chan Request, 16), release: make(chan struct{})}
	e.mu.Lock()
	e.holds = append(e.holds, h)
	e.mu.Unlock()
	t.Cleanup(h.Release)
	return h
}

// Request is one request the emulator received: who signed it (the access
// key id of its SigV4 scope, never a secret) and what it asked.
type Request struct {
	AccessKeyID string
	Service     string
	Method      string
	Path        string
	// Query is the raw query string (S3 names its operations there:
	// "tagging", "acl").
	Query string
	// Target is the X-Amz-Target of JSON protocols
	// (DynamoDB_20120810.CreateTable).
	Target string
	// Status is the HTTP status of the answer (0 while it is being
	// served). Requests returns it, so a test can see what the emulator
	// refused or does not implement.
	Status int
}

// STSCall is one recorded AssumeRole request.
type STSCall struct {
	RoleARN           string
	RoleSessionName   string
	ExternalID        string
	DurationSeconds   string
	Tags              map[string]string
	TransitiveTagKeys []string
}

type injectedFailure struct {
	code, message string
	status        int
}

// Start starts an emulator with nothing in it; Close stops it. kumo's
// state is shared by the whole process (see reset): use one emulator at a
// time.
func Start() (*Emulator, error) {
	e := &Emulator{kumo: kumo.NewServer(), taggingCalls: map[string]int{},
		iam: iamState{documents: map[string]string{}, boundaries: map[string]string{}}, s3: newS3State()}
	if err := e.reset(context.Background()); err != nil {
		e.kumo.Close()
		return nil, fmt.Errorf("cannot empty the emulator: %w", err)
	}
	if err := e.seedManagedPolicies(context.Background()); err != nil {
		e.kumo.Close()
		return nil, err
	}
	target, _ := url.Parse(e.kumo.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	e.front = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.serve(w, r, proxy)
	}))
	e.URL = e.front.URL
	return e, nil
}

// New starts an emulator that is closed when the test ends.
func New(t testing.TB) *Emulator {
	t.Helper()
	e, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// Close stops the emulator.
func (e *Emulator) Close() {
	e.front.Close()
	e.kumo.Close()
}

// Config is an SDK configuration that talks to the emulator with dummy
// static credentials, in Region, without client-side retries (so that an
// injected failure is seen once).
func (e *Emulator) Config() awssdk.Config {
	return awssdk.Config{
		Region:           Region,
		BaseEndpoint:     awssdk.String(e.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEMULATOR", "emulator-secret", ""),
		RetryMaxAttempts: 1,
	}
}

// RequireExternalID makes AssumeRole refuse (AccessDenied, as AWS words
// it) any request whose ExternalId is not id. kumo itself checks nothing.
func (e *Emulator) RequireExternalID(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.externalID = &id
}

// FailNextAssumeRole makes the next AssumeRole answer an error with this
// code and HTTP status (such as Throttling, 400).
func (e *Emulator) FailNextAssumeRole(code, message string, status int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stsFailures = append(e.stsFailures, injectedFailure{code: code, message: message, status: status})
}

// STSCalls returns the AssumeRole requests received so far.
func (e *Emulator) STSCalls() []STSCall {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]STSCall(nil), e.stsCalls...)
}

// TaggingCalls returns how many GetResources requests each region got.
func (e *Emulator) TaggingCalls() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]int{}
	for k, v := range e.taggingCalls {
		out[k] = v
	}
	return out
}

// Requests returns every request received so far.
func (e *Emulator) Requests() []Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Request(nil), e.requests...)
}

func (e *Emulator) serve(w http.ResponseWriter, r *http.Request, kumo http.Handler) {
	req := Request{AccessKeyID: scopePart(r, 0), Service: signingService(r), Method: r.Method, Path: r.URL.Path,
		Query: r.URL.RawQuery, Target: r.Header.Get("X-Amz-Target")}
	sw := &statusWriter{ResponseWriter: w}
	w = sw
	e.mu.Lock()
	index := len(e.requests)
	e.requests = append(e.requests, req)
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.requests[index].Status = sw.status()
		e.mu.Unlock()
	}()
	e.mu.Lock()
	var hold *Hold
	for _, h := range e.holds {
		if h.match(req) {
			hold = h
		}
	}
	e.mu.Unlock()
	if hold != nil {
		rec := httptest.NewRecorder()
		e.serveNow(rec, r, kumo)
		select {
		case hold.Held <- req:
		default:
		}
		select {
		case <-hold.release:
		case <-r.Context().Done():
			return
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
		return
	}
	e.serveNow(w, r, kumo)
}

func (e *Emulator) serveNow(w http.ResponseWriter, r *http.Request, kumo http.Handler) {
	if op, proto := taggingOperation(r); op != "" {
		e.serveTagging(w, r, op, proto)
		return
	}
	if e.serveS3Defaults(w, r, kumo) || e.serveIAM(w, r, kumo) || e.serveLambda(w, r, kumo) || e.serveDynamoDB(w, r, kumo) {
		return
	}
	if signingService(r) == "sts" {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if handled := e.interceptSTS(w, r, body); handled {
			return
		}
	}
	kumo.ServeHTTP(w, r)
}

// statusWriter remembers the status of an answer.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// Flush lets the reverse proxy stream (it flushes when it can).
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// interceptSTS records an AssumeRole and answers the failures tests asked
// for; it returns true when it has answered.
func (e *Emulator) interceptSTS(w http.ResponseWriter, r *http.Request, body []byte) bool {
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("Action") != "AssumeRole" {
		return false
	}
	call := STSCall{
		RoleARN:         form.Get("RoleArn"),
		RoleSessionName: form.Get("RoleSessionName"),
		ExternalID:      form.Get("ExternalId"),
		DurationSeconds: form.Get("DurationSeconds"),
		Tags:            map[string]string{},
	}
	for i := 1; form.Has(fmt.Sprintf("Tags.member.%d.Key", i)); i++ {
		call.Tags[form.Get(fmt.Sprintf("Tags.member.%d.Key", i))] = form.Get(fmt.Sprintf("Tags.member.%d.Value", i))
	}
	for i := 1; form.Has(fmt.Sprintf("TransitiveTagKeys.member.%d", i)); i++ {
		call.TransitiveTagKeys = append(call.TransitiveTagKeys, form.Get(fmt.Sprintf("TransitiveTagKeys.member.%d", i)))
	}

	e.mu.Lock()
	e.stsCalls = append(e.stsCalls, call)
	var fail *injectedFailure
	if len(e.stsFailures) > 0 {
		f := e.stsFailures[0]
		e.stsFailures = e.stsFailures[1:]
		fail = &f
	} else if e.externalID != nil && call.ExternalID != *e.externalID {
		fail = &injectedFailure{
			code:   "AccessDenied",
			status: http.StatusForbidden,
			message: fmt.Sprintf("User: arn:aws:iam::%s:user/tenantform is not authorized to perform: sts:AssumeRole on resource: %s",
				AccountID, call.RoleARN),
		}
	}
	e.mu.Unlock()
	if fail == nil {
		return false
	}
	writeQueryError(w, fail.code, fail.message, fail.status)
	return true
}

// writeQueryError answers in the AWS query protocol's XML error format.
func writeQueryError(w http.ResponseWriter, code, message string, status int) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>emulator</RequestId></ErrorResponse>`,
		xmlEscape(code), xmlEscape(message))
}

func xmlEscape(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// signingService and signingRegion read the SigV4 credential scope of the
// Authorization header (Credential=AKID/date/region/service/aws4_request).
func signingService(r *http.Request) string { return scopePart(r, 3) }

func signingRegion(r *http.Request) string {
	if region := scopePart(r, 2); region != "" {
		return region
	}
	return Region
}

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
