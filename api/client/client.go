// Package client is a typed Go client of tenantform's HTTP API, as
// client-go is for Kubernetes: projects, runs, approval, extension, the
// watch stream, and the API's errors as values. The tenantform CLI is
// built on it; any Go program can use it the same way.
//
//	c, err := client.New("http://127.0.0.1:5001", os.Getenv("TENANTFORM_TOKEN"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	p, err := c.PutProject(ctx, "alice", "demo", client.Spec{Files: map[string]string{
//		"main.tf": `resource "terraform_data" "a" {}`,
//	}}, 0)
//	var apiErr *client.Error
//	if errors.As(err, &apiErr) && apiErr.Code == "PolicyViolation" {
//		log.Fatal(apiErr) // the message, then file:line for each violation
//	}
//	err = c.WatchProject(ctx, "alice", "demo", func(ev client.WatchEvent) error {
//		fmt.Println(ev.Type, ev.Project.Status.Phase)
//		return nil
//	})
package client

import (
	"bytes"
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

// DefaultTimeout bounds one request of a Client made by New (a watch
// stream is not bounded: it lasts until its context ends).
const DefaultTimeout = 30 * time.Second

// Retries: a 429 (not processed) and a 503 of a read are repeated after the
// server's Retry-After, MaxRetries times at most, waiting at most
// MaxRetryWait each time.
const (
	MaxRetries   = 3
	MaxRetryWait = 10 * time.Second
)

// Client calls one tenantform server with one token. It is safe for
// concurrent use.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// Option adjusts a Client.
type Option func(*Client)

// WithHTTPClient sends requests through hc (its Timeout bounds each
// request; watch streams use its Transport without a timeout).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// New returns a client of the server at baseURL (http or https) acting
// with token.
func New(baseURL, token string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http(s) URL such as http://127.0.0.1:5001", baseURL)
	}
	if token == "" {
		return nil, errors.New("no token")
	}
	c := &Client{base: u, token: token, http: &http.Client{Timeout: DefaultTimeout}}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// BaseURL is the server's address.
func (c *Client) BaseURL() string { return c.base.String() }

// Error is an error answer of the API: its HTTP status and the envelope's
// code, message and details.
type Error struct {
	Status  int
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Details json.RawMessage `json:"details"`
	// RetryAfter is the server's Retry-After, when it sent one.
	RetryAfter string
}

// Error is the message, then one line per detail: file:line for a policy
// violation, the field for a bad request.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (HTTP %d): %s", e.Code, e.Status, e.Message)
	var details []json.RawMessage
	_ = json.Unmarshal(e.Details, &details) // a tombstone (410) is not a list
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
	if e.RetryAfter != "" {
		fmt.Fprintf(&b, "\n  (the server asks to retry after %s seconds)", e.RetryAfter)
	}
	return b.String()
}

// IsNotFound says err is a 404 (or, for a destroyed project, 410 Gone).
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Status == http.StatusNotFound || e.Status == http.StatusGone)
}

// Do sends one request to path (escaped, with any query) and returns the
// body of a 2xx answer; body, when not nil, is sent as JSON (a
// json.RawMessage as it is). Any other answer is an *Error. A 429 is
// retried after the server's Retry-After, and so is a 503 of a GET (a
// write that met an outage is the caller's to repeat).
func (c *Client) Do(ctx context.Context, method, path string, body any, header http.Header) ([]byte, int, error) {
	for attempt := 0; ; attempt++ {
		b, status, err := c.doOnce(ctx, method, path, body, header)
		var ae *Error
		retry := errors.As(err, &ae) && (status == http.StatusTooManyRequests ||
			status == http.StatusServiceUnavailable && method == http.MethodGet)
		if !retry || attempt == MaxRetries {
			return b, status, err
		}
		wait := time.Second
		if n, perr := strconv.Atoi(ae.RetryAfter); perr == nil && n > 0 {
			wait = min(time.Duration(n)*time.Second, MaxRetryWait)
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, 0, err
		}
	}
}

func (c *Client) doOnce(ctx context.Context, method, path string, body any, header http.Header) ([]byte, int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, 0, err
		}
		rd = bytes.NewReader(b)
	}
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
	return nil, resp.StatusCode, decodeError(resp, b)
}

// decodeError reads an error answer: an *Error for the API's envelope, a
// plain error for anything else (a proxy's page).
func decodeError(resp *http.Response, b []byte) error {
	var env struct {
		Error Error `json:"error"`
	}
	if json.Unmarshal(b, &env) != nil || env.Error.Code == "" {
		return fmt.Errorf("%s %s answered HTTP %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, truncate(string(b), 300))
	}
	e := env.Error
	e.Status = resp.StatusCode
	e.RetryAfter = resp.Header.Get("Retry-After")
	return &e
}

// GetJSON GETs path, decodes the answer into v (when not nil) and returns
// it raw as well.
func (c *Client) GetJSON(ctx context.Context, path string, v any) ([]byte, error) {
	b, _, err := c.Do(ctx, http.MethodGet, path, nil, nil)
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

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
