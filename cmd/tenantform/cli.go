package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The client half of the binary: kubectl-like verbs over the HTTP API
// (projects, runs, logs). It speaks only HTTP, so it works against any
// tenantform server, and reads its settings from TENANTFORM_URL and
// TENANTFORM_TOKEN or from flags, never from the server's environment.

// defaultClientURL is where `tenantform dev` listens.
const defaultClientURL = "http://127.0.0.1:5001"

// clientTimeout bounds one HTTP request of the client (a watch is many).
const clientTimeout = 30 * time.Second

// clientOptions are the flags every client verb takes.
type clientOptions struct {
	url, token, user, output string
	// getenv supplies TENANTFORM_TOKEN after parsing: the token is never a
	// flag default, so -h and usage errors cannot print it.
	getenv func(string) string
}

// addClientFlags registers the common flags on fs.
func addClientFlags(fs *flag.FlagSet, getenv func(string) string) *clientOptions {
	o := &clientOptions{getenv: getenv}
	def := getenv("TENANTFORM_URL")
	if def == "" {
		def = defaultClientURL
	}
	fs.StringVar(&o.url, "url", def, "API base URL (TENANTFORM_URL)")
	fs.StringVar(&o.token, "token", "", "API token (default: $TENANTFORM_TOKEN; \"tenantform token --user U\" prints one)")
	fs.StringVar(&o.user, "user", "", "user whose projects to act on (default: the token's user; other users need an admin token)")
	fs.StringVar(&o.output, "o", "table", "output format: table, wide (more columns), name, json or yaml")
	return o
}

// clientEnvironmentHelp is the environment block of the client verbs'
// --help.
const clientEnvironmentHelp = `
Environment:
  TENANTFORM_URL     API base URL (default ` + defaultClientURL + `)
  TENANTFORM_TOKEN   API token, unless --token is given
`

// parseInterspersed parses flags anywhere among the arguments, as kubectl
// does ("projects get demo -o json"), and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// apiClient calls one tenantform server as one user.
type apiClient struct {
	base   *url.URL
	token  string
	user   string
	output string
	http   *http.Client
}

// newAPIClient checks the common options and builds the client.
func newAPIClient(o *clientOptions, hc *http.Client) (*apiClient, error) {
	u, err := url.Parse(strings.TrimSuffix(o.url, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: --url (TENANTFORM_URL) %q is not an http(s) URL such as %s", errUsage, o.url, defaultClientURL)
	}
	switch o.output {
	case "table", "wide", "name", "json", "yaml":
	default:
		return nil, fmt.Errorf("%w: -o %q: use table, wide, name, json or yaml", errUsage, o.output)
	}
	if o.token == "" && o.getenv != nil {
		o.token = o.getenv("TENANTFORM_TOKEN")
	}
	if o.token == "" {
		return nil, errors.New("no token: set TENANTFORM_TOKEN or pass --token (`tenantform token --user NAME` prints one)")
	}
	user := o.user
	if user == "" {
		if user, err = tokenSubject(o.token); err != nil {
			return nil, err
		}
	}
	if hc == nil {
		hc = &http.Client{Timeout: clientTimeout}
	}
	return &apiClient{base: u, token: o.token, user: user, output: o.output, http: hc}, nil
}

// tokenSubject reads the user id from a token's payload. It verifies
// nothing (the server does): it only saves typing --user.
func tokenSubject(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("the token is not a JWT (three dot-separated parts); pass --user to name the user")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		Sub string `json:"sub"`
	}
	if err != nil || json.Unmarshal(payload, &claims) != nil || claims.Sub == "" {
		return "", errors.New("cannot read the user from the token; pass --user")
	}
	return claims.Sub, nil
}

// projectPath is the API path of one of the user's projects ("" for the
// collection), with each segment escaped.
func (c *apiClient) projectPath(name string, more ...string) string {
	p := "/api/v1/users/" + url.PathEscape(c.user) + "/projects"
	if name != "" {
		p += "/" + url.PathEscape(name)
	}
	for _, m := range more {
		p += "/" + m
	}
	return p
}

// apiError is an error answer of the API, as the client shows it.
type apiError struct {
	status  int
	Code    string `json:"code"`
	Message string `json:"message"`
	// Details is a list (policy violations, bad fields) or, for 410 Gone,
	// the project's tombstone.
	Details json.RawMessage `json:"details"`
	// retryAfter is the server's Retry-After, when it sent one.
	retryAfter string
}

// Error is the message, then one line per detail: file:line for a policy
// violation, the field for a bad request.
func (e *apiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (HTTP %d): %s", e.Code, e.status, e.Message)
	var details []json.RawMessage
	_ = json.Unmarshal(e.Details, &details) // a tombstone is not a list: no lines
	for _, raw := range details {
		var d struct {
			File    string `json:"file"`
			Line    int    `json:"line"`
			Field   string `json:"field"`
			Message string `json:"message"`
		}
		if json.Unmarshal(raw, &d) != nil {
			fmt.Fprintf(&b, "\n  %s", raw)
			continue
		}
		switch {
		case d.File != "" && d.Line > 0:
			fmt.Fprintf(&b, "\n  %s:%d: %s", d.File, d.Line, d.Message)
		case d.File != "":
			fmt.Fprintf(&b, "\n  %s: %s", d.File, d.Message)
		case d.Field != "":
			fmt.Fprintf(&b, "\n  %s: %s", d.Field, d.Message)
		default:
			fmt.Fprintf(&b, "\n  %s", d.Message)
		}
	}
	if e.retryAfter != "" {
		fmt.Fprintf(&b, "\n  (the server asks to retry after %s seconds)", e.retryAfter)
	}
	return b.String()
}

// maxRetries bounds how often one request is repeated after an answer
// that asks for it (429; 503 for reads), and maxRetryWait each wait.
const (
	maxRetries   = 3
	maxRetryWait = 10 * time.Second
)

// do sends one request and returns the body of a 2xx answer. body, when
// not nil, is sent as JSON. Any other answer is an *apiError. A 429 (the
// request was not processed) is retried after the server's Retry-After,
// and so is a 503 of a GET (a write that met a database outage is left to
// the caller, who knows whether repeating it is what they want).
func (c *apiClient) do(ctx context.Context, method, path string, body any) ([]byte, int, error) {
	return c.doWith(ctx, method, path, body, nil)
}

// doWith is do with extra request headers (If-Match).
func (c *apiClient) doWith(ctx context.Context, method, path string, body any, header http.Header) ([]byte, int, error) {
	for attempt := 0; ; attempt++ {
		b, status, err := c.doOnce(ctx, method, path, body, header)
		var ae *apiError
		retry := errors.As(err, &ae) && (status == http.StatusTooManyRequests ||
			status == http.StatusServiceUnavailable && method == http.MethodGet)
		if !retry || attempt == maxRetries {
			return b, status, err
		}
		wait := time.Second
		if n, perr := strconv.Atoi(ae.retryAfter); perr == nil && n > 0 {
			wait = min(time.Duration(n)*time.Second, maxRetryWait)
		}
		if err := sleepCtx(ctx, wait); err != nil {
			return nil, 0, err
		}
	}
}

func (c *apiClient) doOnce(ctx context.Context, method, path string, body any, header http.Header) ([]byte, int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, 0, err
		}
		rd = bytes.NewReader(b)
	}
	// path is already escaped (projectPath) and may carry a query.
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.base.String(), "/")+path, rd)
	if err != nil {
		return nil, 0, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		return nil, 0, fmt.Errorf("cannot reach tenantform at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, resp.StatusCode, fmt.Errorf("cannot read the answer of %s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return b, resp.StatusCode, nil
	}
	return nil, resp.StatusCode, decodeAPIError(resp, b)
}

// decodeAPIError reads an error answer: an *apiError for the API's
// envelope, a plain error for anything else (a proxy's page).
func decodeAPIError(resp *http.Response, b []byte) error {
	var env struct {
		Error apiError `json:"error"`
	}
	if json.Unmarshal(b, &env) != nil || env.Error.Code == "" {
		return fmt.Errorf("%s %s answered HTTP %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, truncateText(string(b), 300))
	}
	e := env.Error
	e.status = resp.StatusCode
	e.retryAfter = resp.Header.Get("Retry-After")
	return &e
}

// getJSON GETs path and decodes the answer into v, returning the raw body
// too (for -o json/yaml).
func (c *apiClient) getJSON(ctx context.Context, path string, v any) ([]byte, error) {
	b, _, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			return nil, fmt.Errorf("GET %s: unexpected answer: %w", path, err)
		}
	}
	return b, nil
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// document says the answer is printed as a document (json, yaml, or the
// names in it) rather than as a table (table, wide).
func (c *apiClient) document() bool {
	return c.output == "json" || c.output == "yaml" || c.output == "name"
}
