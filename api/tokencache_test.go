package api

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// A token that verified once is remembered, but its expiry is not: used
// again after it expired, or before it is valid, it is refused as a
// token never seen would be.
func TestRememberedTokenStillExpires(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	alice := e.token("alice", false) // valid for an hour from now
	e.do("PUT", projectPathAliceDemo, alice, spec(1)).wantStatus(t, http.StatusCreated)
	e.do("GET", projectPathAliceDemo, alice, nil).wantStatus(t, http.StatusOK)

	e.clock.Add(time.Hour + time.Second)
	e.do("GET", projectPathAliceDemo, alice, nil).wantError(t, http.StatusUnauthorized, codeUnauthorized)
	r := e.do("GET", projectPathAliceDemo, alice, nil)
	r.wantError(t, http.StatusUnauthorized, codeUnauthorized)
	if got := r.header.Get("Www-Authenticate"); got != `Bearer realm="tenantform", error="invalid_token"` {
		t.Errorf("challenge %q", got)
	}

	// Signed for a time the clock has not reached (nbf): refused until then.
	e.clock.Add(-time.Hour)
	later := signed(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{
		"sub": "alice", "nbf": e.clock.Now().Add(time.Minute).Unix(), "exp": e.clock.Now().Add(time.Hour).Unix()})
	e.do("GET", projectPathAliceDemo, later, nil).wantError(t, http.StatusUnauthorized, codeUnauthorized)
	e.clock.Add(2 * time.Minute)
	e.do("GET", projectPathAliceDemo, later, nil).wantStatus(t, http.StatusOK)
	e.clock.Add(-2 * time.Minute)
	e.do("GET", projectPathAliceDemo, later, nil).wantError(t, http.StatusUnauthorized, codeUnauthorized)
}

func TestVerifiedTokensStayBounded(t *testing.T) {
	var v verifiedTokens
	for i := range maxVerifiedTokens + 10 {
		v.add(fmt.Sprint(i), verifiedToken{caller: caller{userID: "u"}})
		if len(v.tokens) > maxVerifiedTokens {
			t.Fatalf("%d tokens remembered, at most %d", len(v.tokens), maxVerifiedTokens)
		}
	}
	if _, ok := v.get(fmt.Sprint(maxVerifiedTokens + 9)); !ok {
		t.Error("the newest token was forgotten")
	}
}
