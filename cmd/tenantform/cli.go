package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tenantform/tenantform/api/client"
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

// apiClient is the API's Go client (package api/client) with what the
// command line adds: the user acted on and the output format.
type apiClient struct {
	*client.Client
	user   string
	output string
}

// apiError is an error answer of the API.
type apiError = client.Error

// newAPIClient checks the common options and builds the client.
func newAPIClient(o *clientOptions, hc *http.Client) (*apiClient, error) {
	if u, err := url.Parse(strings.TrimSuffix(o.url, "/")); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
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
		var err error
		if user, err = tokenSubject(o.token); err != nil {
			return nil, err
		}
	}
	if hc == nil {
		hc = &http.Client{Timeout: clientTimeout}
	}
	c, err := client.New(o.url, o.token, client.WithHTTPClient(hc))
	if err != nil {
		return nil, err
	}
	return &apiClient{Client: c, user: user, output: o.output}, nil
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
	return client.ProjectPath(c.user, name, more...)
}

// do sends one request through the API client (retrying 429s, and 503s
// of reads) and returns the body of a 2xx answer; any other answer is an
// *apiError.
func (c *apiClient) do(ctx context.Context, method, path string, body any) ([]byte, int, error) {
	return c.Client.Do(ctx, method, path, body, nil)
}

// doWith is do with extra request headers (If-Match).
func (c *apiClient) doWith(ctx context.Context, method, path string, body any, header http.Header) ([]byte, int, error) {
	return c.Client.Do(ctx, method, path, body, header)
}

// getJSON GETs path and decodes the answer into v, returning the raw body
// too (for -o json/yaml).
func (c *apiClient) getJSON(ctx context.Context, path string, v any) ([]byte, error) {
	return c.Client.GetJSON(ctx, path, v)
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
