package api

import (
	"container/list"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimiters bounds the per-user limiters kept in memory. Users are only
// ever added after their token verified, but a holder of the secret (or a
// long-lived deployment) could still bring many distinct subs; the least
// recently seen user's limiter goes first. Forgetting a limiter is safe as
// long as it was idle, since a fresh one starts full anyway; with this
// many entries, only a user idle far longer than a refill is forgotten.
const maxLimiters = 10000

// limiters holds a token bucket per authenticated user, in least recently
// used order.
type limiters struct {
	limit rate.Limit
	burst int
	max   int

	mu    sync.Mutex
	byID  map[string]*list.Element // value: *userLimiter
	order *list.List               // front: most recently used
}

type userLimiter struct {
	userID  string
	limiter *rate.Limiter
}

func newLimiters(perSecond float64, burst, max int) *limiters {
	if burst <= 0 {
		burst = max1(int(math.Ceil(perSecond)))
	}
	return &limiters{limit: rate.Limit(perSecond), burst: burst, max: max,
		byID: map[string]*list.Element{}, order: list.New()}
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// allow takes one token from userID's bucket at now, or returns a 429 that
// says when to retry. The clock is the caller's, so tests need not sleep.
func (l *limiters) allow(userID string, now time.Time) error {
	if l.limit <= 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var ul *userLimiter
	if el, ok := l.byID[userID]; ok {
		l.order.MoveToFront(el)
		ul = el.Value.(*userLimiter)
	} else {
		ul = &userLimiter{userID: userID, limiter: rate.NewLimiter(l.limit, l.burst)}
		l.byID[userID] = l.order.PushFront(ul)
		for l.order.Len() > l.max {
			oldest := l.order.Back()
			l.order.Remove(oldest)
			delete(l.byID, oldest.Value.(*userLimiter).userID)
		}
	}
	res := ul.limiter.ReserveN(now, 1)
	delay := res.DelayFrom(now)
	if delay == 0 {
		return nil
	}
	// A refused request must not use up a future token.
	res.CancelAt(now)
	secs := int(math.Ceil(delay.Seconds()))
	e := newError(http.StatusTooManyRequests, codeRateLimited,
		"too many requests for user %s; retry in %d s", userID, secs)
	e.header = http.Header{"Retry-After": {strconv.Itoa(secs)}}
	return e
}
