package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// The fuzz targets below check the API's decoders against one promise:
// whatever a client sends, either it is refused with a 4xx envelope, or
// every string that comes out of the decoder is text PostgreSQL can store
// (valid UTF-8, no NUL) and is exactly what was sent (encoding/json did not
// quietly substitute U+FFFD for something else). Seed corpora live in
// testdata/fuzz/<target>; run one with
//
//	go test ./api/ -run '^$' -fuzz FuzzDecodeSpec -fuzztime 5m

// FuzzDecodeSpec runs a PUT body through decodeBody and the spec
// validation, then marshals the spec as the store would.
func FuzzDecodeSpec(f *testing.F) {
	f.Add([]byte(`{"files":{"main.tf":"resource \"terraform_data\" \"a\" {}"},"variables":{"n":1}}`))
	s := newServer(testConfig(&clock{now: t0}), nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest(http.MethodPut, "/", bytes.NewReader(body))
		var req specRequest
		if err := decodeBody(r, &req); err != nil {
			wantClientError(t, err)
			return
		}
		sp, problems := s.spec(req, costCap{usd: 50, source: "test"})
		if len(problems) > 0 {
			return
		}
		stored, err := json.Marshal(sp)
		if err != nil {
			t.Fatalf("an accepted spec cannot be marshalled: %v", err)
		}
		checkStorable(t, body, stored)
	})
}

// FuzzJSONText compares checkJSONText with an independent oracle on any
// input, valid JSON or not.
func FuzzJSONText(f *testing.F) {
	f.Add([]byte(`{"a":["\u0000"]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if err := checkJSONText(body); err != nil {
			wantClientError(t, err)
			return
		}
		if !json.Valid(body) {
			return
		}
		checkStorable(t, body, body)
	})
}

// FuzzRequestText covers the path, the query and a header.
func FuzzRequestText(f *testing.F) {
	f.Add("api/v1/users/alice/projects", "limit=5&after=YWxpY2UvZGVtbw", "café")
	f.Fuzz(func(t *testing.T, path, query, header string) {
		u, err := url.Parse("http://tenantform.test/" + path)
		if err != nil || strings.ContainsAny(path, "?#") {
			return
		}
		u.RawQuery = query
		r := &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{"X-Fuzz": {header}}}
		if err := requestTextProblem(r); err != nil {
			wantClientError(t, err)
			return
		}
		for _, seg := range strings.Split(u.Path, "/") {
			wantText(t, "path segment", seg)
		}
		q, err := url.ParseQuery(query)
		if err != nil {
			t.Fatalf("query %q accepted but net/url cannot parse it: %v", query, err)
		}
		for name, values := range q {
			wantText(t, "query name", name)
			for _, v := range values {
				wantText(t, "query value", v)
			}
		}
		wantText(t, "header", header)
	})
}

// wantClientError fails unless err is an envelope with a 4xx status and a
// message.
func wantClientError(t *testing.T, err error) {
	t.Helper()
	var ae *apiError
	if !errors.As(err, &ae) || ae.status < 400 || ae.status > 499 || ae.message == "" {
		t.Fatalf("refused with %v, want a 4xx envelope with a message", err)
	}
	if !utf8.ValidString(ae.message) {
		t.Fatalf("the error message is not UTF-8: %q", ae.message)
	}
}

// checkStorable walks every string of the accepted document doc (decoded
// as encoding/json does): each must be storable, and U+FFFD may appear
// only if the client sent one (raw or escaped) in sent.
func checkStorable(t *testing.T, sent, doc []byte) {
	t.Helper()
	sentFFFD := bytes.Contains(sent, []byte("\uFFFD")) || bytes.Contains(bytes.ToLower(sent), []byte(`\ufffd`))
	dec := json.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("accepted JSON does not decode: %v", err)
		}
		if s, ok := tok.(string); ok {
			wantText(t, "JSON string", s)
			if !sentFFFD && strings.ContainsRune(s, utf8.RuneError) {
				t.Fatalf("encoding/json substituted U+FFFD in %q: the input held invalid text that was accepted", s)
			}
		}
	}
}

func wantText(t *testing.T, what, s string) {
	t.Helper()
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		t.Fatalf("accepted %s %q is not storable text", what, s)
	}
}
