package api

import (
	"bufio"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestTextPostgreSQLCannotStoreIs400 sends NUL and invalid UTF-8 through
// every part of a request: each is a JSON 400 that names where it was, and
// nothing reaches the database (which would answer 500, or store U+FFFD in
// place of what was sent).
func TestTextPostgreSQLCannotStoreIs400(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.token("alice", false)
	e.do("PUT", "/api/v1/users/alice/projects/kept", alice, spec(1)).wantStatus(t, http.StatusCreated)
	badCursor := base64.RawURLEncoding.EncodeToString([]byte("alice\x00/x"))
	badUTF8Cursor := base64.RawURLEncoding.EncodeToString([]byte("alice/\xff"))
	files := `"files": {"main.tf": "resource \"terraform_data\" \"a\" {}"}`

	for _, tc := range []struct {
		name, method, path, body string
		headers                  []string
		wantWhere, wantProblem   string
	}{
		{"NUL in a path segment", "GET", "/api/v1/users/alice/projects/de%00mo", "", nil, "path segment 6", "NUL"},
		{"invalid UTF-8 in a path segment", "GET", "/api/v1/users/al%FFice/projects", "", nil, "path segment 4", "UTF-8"},
		{"NUL in an unknown route", "GET", "/no%00where", "", nil, "path segment 1", "NUL"},
		{"NUL in a query value", "GET", "/api/v1/users/alice/projects?after=%00", "", nil, "query parameter after", "NUL"},
		{"invalid UTF-8 in a query value", "GET", "/api/v1/users/alice/projects?after=%C3%28", "", nil, "query parameter after", "UTF-8"},
		{"NUL in a query name", "GET", "/api/v1/users/alice/projects?li%00mit=1", "", nil, "a query parameter name", "NUL"},
		{"bad escape in the query", "GET", "/api/v1/users/alice/projects?limit=%zz", "", nil, "query parameter limit", "percent-escape"},
		{"cursor decoding to NUL", "GET", "/api/v1/users/alice/projects?after=" + badCursor, "", nil, "query parameter after", "NUL"},
		{"cursor decoding to invalid UTF-8", "GET", "/api/v1/users/alice/projects?after=" + badUTF8Cursor, "", nil, "query parameter after", "UTF-8"},
		{"invalid UTF-8 in a header", "GET", "/api/v1/users/alice/projects", "", []string{"X-Trace", "caf\xe9"}, "header X-Trace", "UTF-8"},
		{"escaped NUL in a file", "PUT", projectPathAliceDemo, `{"files": {"main.tf": "x\u0000"}}`, nil, `body field files["main.tf"]`, "NUL"},
		{"raw NUL byte in the body", "PUT", projectPathAliceDemo, "{\"files\": {\"main.tf\": \"x\x00\"}}", nil, "the request body", "NUL byte (at byte 24)"},
		{"invalid UTF-8 in a file", "PUT", projectPathAliceDemo, "{\"files\": {\"main.tf\": \"caf\xe9\"}}", nil, `body field files["main.tf"]`, "UTF-8"},
		{"invalid UTF-8 in a file name", "PUT", projectPathAliceDemo, "{\"files\": {\"m\xffain.tf\": \"\"}}", nil, "a key of body field files", "UTF-8"},
		{"NUL in a variable name", "PUT", projectPathAliceDemo, `{` + files + `, "variables": {"n\u0000": 1}}`, nil, "a key of body field variables", "NUL"},
		{"NUL deep in a variable", "PUT", projectPathAliceDemo, `{` + files + `, "variables": {"tags": {"owner": ["a", "b\u0000"]}}}`, nil, "body field variables.tags.owner[1]", "NUL"},
		{"lone high surrogate", "PUT", projectPathAliceDemo, `{` + files + `, "variables": {"s": "\ud800x"}}`, nil, "body field variables.s", "surrogate"},
		{"lone low surrogate", "PUT", projectPathAliceDemo, `{` + files + `, "variables": {"s": "\udc00"}}`, nil, "body field variables.s", "surrogate"},
		{"NUL in the region", "PUT", projectPathAliceDemo, `{` + files + `, "region": "us-east-1\u0000"}`, nil, "body field region", "NUL"},
		{"NUL in a top-level key", "PUT", projectPathAliceDemo, `{` + files + `, "reg\u0000ion": "x"}`, nil, "a key of the request body", "NUL"},
		{"NUL in extend", "POST", "/api/v1/users/alice/projects/kept/extend", `{"ttlMinutes\u0000": 5}`, nil, "a key of the request body", "NUL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			got := e.do(tc.method, tc.path, alice, body, tc.headers...).wantError(t, http.StatusBadRequest, codeBadRequest)
			if !strings.Contains(got.Error.Message, tc.wantWhere) || !strings.Contains(got.Error.Message, tc.wantProblem) {
				t.Errorf("message %q does not say %q and %q", got.Error.Message, tc.wantWhere, tc.wantProblem)
			}
			if len(got.Error.Details) != 1 || !strings.Contains(string(got.Error.Details[0]), `"field":`) {
				t.Errorf("details %s do not name the field", got.Error.Details)
			}
		})
	}
	// Nothing was stored or changed.
	e.do("GET", projectPathAliceDemo, alice, nil).wantError(t, http.StatusNotFound, codeNotFound)
	e.do("GET", "/api/v1/users/alice/projects/kept", alice, nil).wantStatus(t, http.StatusOK)
}

// TestUnusualButValidTextIsKept: what is refused above must not take valid
// text with it. Surrogate pairs, U+FFFD typed on purpose, escapes and
// non-ASCII names round-trip exactly.
func TestUnusualButValidTextIsKept(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.token("alice", false)
	body := `{"files": {"main.tf": "# caf\u00e9 \ud83d\ude00 \ufffd \\u0000 \"q\""},
		"variables": {"s": "\ud83d\ude00", "m": {"k\u00e9y": ["\t", "\\"]}}}`
	r := e.do("PUT", projectPathAliceDemo+"?", alice, body, "X-Note", "café")
	r.wantStatus(t, http.StatusCreated)
	p := r.project(t)
	want := map[string]string{"main.tf": "# café 😀 \ufffd \\u0000 \"q\""}
	if diff := cmp.Diff(want, p.Spec.Files); diff != "" {
		t.Errorf("files (-sent +stored):\n%s", diff)
	}
	if got := string(p.Spec.Variables["s"]); got != `"😀"` && got != `"\ud83d\ude00"` {
		t.Errorf("variable s stored as %s", got)
	}
}

func TestJSONPathsAreNamed(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{"a": "\u0000"}`:                                   "body field a",
		`{"a": {"b c": "\u0000"}}`:                          `body field a["b c"]`,
		`{"a": [1, {"x": 2}, ["\u0000"]]}`:                  "body field a[2][0]",
		`{"a": [1, {"x": 2}], "b": "\u0000"}`:               "body field b",
		`{"a": {}, "b": {"c": {"\u0000": 1}}}`:              "a key of body field b.c",
		`"\u0000"`:                                          "the request body",
		strings.Repeat("[", 101) + strings.Repeat("]", 101): "the request body nests",
		`{"v": ` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`: "the request body nests objects and arrays more than 100 deep",
	} {
		err := checkJSONText([]byte(body))
		if err == nil || !strings.HasPrefix(err.message, want+" ") {
			t.Errorf("%s: got %v, want it to start with %q", body, err, want)
		}
	}
}

// TestRawBytesInTheRequest sends what no well-behaved client library
// would: raw invalid UTF-8 in the request line and in a header value. Both
// are the JSON 400, not a 500 or a plain-text answer.
func TestRawBytesInTheRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.token("alice", false)
	for name, req := range map[string]string{
		"request line": "GET /api/v1/users/alice/projects/de\xffmo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + alice + "\r\nConnection: close\r\n\r\n",
		"query":        "GET /api/v1/users/alice/projects?after=\xc3\x28 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + alice + "\r\nConnection: close\r\n\r\n",
		"header":       "GET /api/v1/users/alice/projects HTTP/1.1\r\nHost: x\r\nX-Note: caf\xe9\r\nAuthorization: Bearer " + alice + "\r\nConnection: close\r\n\r\n",
	} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		r := result{status: resp.StatusCode, header: resp.Header, body: body}
		got := r.wantError(t, http.StatusBadRequest, codeBadRequest)
		if !strings.Contains(got.Error.Message, "UTF-8") {
			t.Errorf("%s: %q does not say UTF-8", name, got.Error.Message)
		}
	}
}
