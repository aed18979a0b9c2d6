package providerdouble

import "testing"

// With LoopbackOnly (tenantform dev's double), only endpoints on this
// machine's loopback interface are accepted: the double can never be
// pointed at AWS.
func TestLoopback(t *testing.T) {
	for e, want := range map[string]bool{
		"http://127.0.0.1:4566":              true,
		"http://127.9.9.9":                   true,
		"http://localhost:4566":              true,
		"http://[::1]:4566":                  true,
		"https://s3.us-east-1.amazonaws.com": false,
		"http://10.0.0.1:4566":               false,
		"http://127.0.0.1.example.com":       false,
		"::not a url":                        false,
	} {
		if got := loopback(e); got != want {
			t.Errorf("loopback(%q) = %v, want %v", e, got, want)
		}
	}
}
