package api

import (
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// maxVerifiedTokens bounds the tokens remembered as verified. A client
// sends the same token on every request, so a few per active user are
// enough; when full, the set is emptied and refills from the next
// requests. Only tokens that verified are added, so nobody can fill it
// without tokens signed with the secret.
const maxVerifiedTokens = 4096

// verifiedTokens remembers tokens whose signature verified and whose
// subject is valid, so that a token sent again costs a map lookup instead
// of base64, JSON and HMAC: a tenth of a GET's CPU. What depends on the
// time (exp, nbf, iat) is checked again on every use. The key is the
// whole token, signature included, and the secret does not change while
// the server runs, so a hit is exactly a token that would verify again.
type verifiedTokens struct {
	mu     sync.Mutex
	tokens map[string]verifiedToken
}

type verifiedToken struct {
	caller caller
	claims claims
}

func (v *verifiedTokens) get(raw string) (verifiedToken, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.tokens[raw]
	return t, ok
}

func (v *verifiedTokens) add(raw string, t verifiedToken) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.tokens == nil || len(v.tokens) >= maxVerifiedTokens {
		v.tokens = make(map[string]verifiedToken)
	}
	v.tokens[raw] = t
}

// timeValidator checks the claims that depend on now, as the parser in
// verifyToken does.
func timeValidator(now time.Time) *jwt.Validator {
	return jwt.NewValidator(jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return now }))
}
