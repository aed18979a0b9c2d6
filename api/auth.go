package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tenantform/tenantform/tf/policy"
)

// claims is the token payload: sub is the user, admin may act for anyone.
type claims struct {
	Admin bool `json:"admin,omitempty"`
	jwt.RegisteredClaims
}

// caller is the authenticated user of a request.
type caller struct {
	userID string
	admin  bool
}

// SignToken returns an HS256 JWT for userID that expires ttl after now. It
// is what `tenantform token` prints and dev mode hands out.
func SignToken(secret []byte, userID string, admin bool, ttl time.Duration, now time.Time) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("cannot sign a token: the JWT secret is empty")
	}
	if !policy.ValidID(userID) {
		return "", fmt.Errorf("cannot sign a token: user id %q must be %s", userID, policy.IDRule)
	}
	if ttl <= 0 {
		return "", fmt.Errorf("cannot sign a token: ttl %s must be positive", ttl)
	}
	c := claims{
		Admin: admin,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   userID,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
}

// unauthorized is a 401 with the RFC 6750 challenge. The message says what
// is wrong with the token (expired, bad signature…), which helps a client
// and tells an attacker nothing they did not send.
func unauthorized(message string) *apiError {
	e := newError(http.StatusUnauthorized, codeUnauthorized, "%s", message)
	challenge := `Bearer realm="tenantform"`
	if !strings.HasPrefix(message, "missing") {
		challenge += `, error="invalid_token"`
	}
	e.header = http.Header{"Www-Authenticate": {challenge}}
	return e
}

// authenticate verifies the request's bearer token at now.
func (s *server) authenticate(r *http.Request, now time.Time) (caller, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return caller{}, unauthorized("missing bearer token: send Authorization: Bearer <JWT>")
	}
	scheme, raw, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		return caller{}, unauthorized("the Authorization header must be \"Bearer <JWT>\"")
	}
	return s.verifyToken(strings.TrimSpace(raw), now)
}

// verifyToken checks a token at now, wherever it came from: the API's
// Authorization header or the console's session cookie.
func (s *server) verifyToken(raw string, now time.Time) (caller, error) {
	if len(s.cfg.JWTSecret) == 0 {
		// Fail closed: an empty HMAC key would let anyone sign tokens.
		return caller{}, unauthorized("this server accepts no tokens (no JWT secret is configured)")
	}
	if t, ok := s.tokens.get(raw); ok {
		if err := timeValidator(now).Validate(&t.claims); err != nil {
			return caller{}, unauthorized(tokenProblem(err))
		}
		return t.caller, nil
	}
	var c claims
	parser := jwt.NewParser(
		// HS256 only: a parser that trusted the token's own "alg" would
		// accept "none" or be open to RSA/HMAC key confusion.
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	_, err := parser.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) {
		return s.cfg.JWTSecret, nil
	})
	if err != nil {
		return caller{}, unauthorized(tokenProblem(err))
	}
	if !policy.ValidID(c.Subject) {
		return caller{}, unauthorized("the token's sub claim is not a valid user id")
	}
	who := caller{userID: c.Subject, admin: c.Admin}
	s.tokens.add(raw, verifiedToken{caller: who, claims: c})
	return who, nil
}

// tokenProblem says in words why a token was refused.
func tokenProblem(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "the token is malformed"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "the token's signature is not valid (only HS256 with this server's secret is accepted)"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "the token has no exp claim; tokens must expire"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token has expired; ask its issuer for a new one (an operator prints one with `tenantform token --user NAME`)"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "the token is not valid yet"
	}
	return "the token is not valid"
}

// scope lets a caller act only on their own user, unless they are an
// admin, and then validates the path's ids. A foreign user gets the same
// 404 a missing project (or run) of their own would get, so they cannot
// tell whether the other user or project exists.
func scope(c *call, vars map[string]string) error {
	userID, ok := vars["userId"]
	if !ok {
		return nil
	}
	if !c.caller.admin && userID != c.caller.userID {
		switch {
		case vars["runId"] != "":
			return notFound(msgRunNotFound)
		case vars["planId"] != "":
			return notFound(msgPlanNotFound)
		case vars["projectId"] != "":
			return notFound(msgProjectNotFound)
		}
		return notFound("user not found")
	}
	for _, name := range []string{"userId", "projectId"} {
		if v, ok := vars[name]; ok && !policy.ValidID(v) {
			return badRequest("path parameter %s %q must be %s", name, v, policy.IDRule)
		}
	}
	c.key.UserID, c.key.ProjectID = userID, vars["projectId"]
	return nil
}
