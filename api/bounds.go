package api

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/tenantform/tenantform/store"
)

// What a response carries from stored status and runs is bounded here,
// whatever the tenant's configuration produced: a terraform output of
// 40 MB, or a diagnostic that repeats for pages, must not make every GET
// and list of the project a 40 MB answer. The store may hold more (it has
// limits of its own); these are the API's, part of its contract
// (README "Limits", the OpenAPI document). Whatever is cut is listed in the
// response's "omitted", with its size, so a client never mistakes a
// shortened value for the whole.
const (
	// maxOutputBytes bounds one output value, JSON-encoded. A larger one
	// is left out of status.outputs.
	maxOutputBytes = 4 << 10
	// maxOutputsBytes bounds all of a project's outputs together; outputs
	// are taken in name order until the next would pass it.
	maxOutputsBytes = 32 << 10
	// maxMessageBytes bounds status.message, status.lastError, each
	// condition's message and a run's error; their beginning is kept.
	maxMessageBytes = 4 << 10
	// maxListedErrorBytes bounds a run's error in a list of runs (500 at
	// most); GET of the run shows maxMessageBytes of it.
	maxListedErrorBytes = 1 << 10
	// maxConditions bounds the conditions shown.
	maxConditions = 32
	// maxLogTailBytes bounds a run's logTail; its end is kept, as a tail
	// should.
	maxLogTailBytes = 64 << 10
	// maxListPageBytes bounds a page of projects: a page holds fewer
	// than ?limit= projects when more would not fit (one at least), and
	// "next" continues after the last one shown.
	maxListPageBytes = 1 << 20
	// maxPlanDocumentBytes bounds a run's planSummary and costEstimate
	// each; a larger document is replaced by null.
	maxPlanDocumentBytes = 256 << 10
)

// omission is one value a response left out or shortened.
type omission struct {
	// Field is the value's path in the response ("outputs.url",
	// "lastError", "logTail").
	Field string `json:"field"`
	// Bytes is the stored value's size (JSON-encoded for outputs and
	// documents), Limit the API's limit it passed.
	Bytes int    `json:"bytes"`
	Limit int    `json:"limit"`
	How   string `json:"how"` // "omitted" or "truncated"
}

// limiter collects what one response cut.
type limiter struct{ omitted []omission }

func (l *limiter) note(field string, size, limit int, how string) {
	l.omitted = append(l.omitted, omission{Field: field, Bytes: size, Limit: limit, How: how})
}

// head keeps at most limit bytes of the start of s (on a rune boundary),
// marking the cut.
func (l *limiter) head(field, s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	l.note(field, len(s), limit, "truncated")
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… [truncated: %d bytes in all]", len(s))
}

// tail keeps at most limit bytes of the end of s.
func (l *limiter) tail(field, s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	l.note(field, len(s), limit, "truncated")
	cut := len(s) - limit
	for cut < len(s) && !utf8.RuneStart(s[cut]) {
		cut++
	}
	return fmt.Sprintf("[truncated: %d bytes in all; the last %d follow] …", len(s), len(s)-cut) + s[cut:]
}

// outputs keeps the outputs that fit, in name order.
func (l *limiter) outputs(all map[string]any) map[string]any {
	out := make(map[string]any, len(all))
	total := 0
	names := sortedKeys(all)
	for _, name := range names {
		field := "outputs." + name
		if !plainKey(name) {
			field = "outputs[" + strconv.Quote(name) + "]"
		}
		b, err := json.Marshal(all[name])
		switch {
		case err != nil:
			// The store decoded it from JSON, so this cannot happen;
			// if it does, leaving it out beats failing the response.
			l.note(field, 0, maxOutputBytes, "omitted")
		case len(b) > maxOutputBytes:
			l.note(field, len(b), maxOutputBytes, "omitted")
		case total+len(b) > maxOutputsBytes:
			l.note(field, len(b), maxOutputsBytes, "omitted")
		default:
			total += len(b)
			out[name] = json.RawMessage(b)
		}
	}
	return out
}

// document keeps a JSON document within limit, or replaces it by null.
func (l *limiter) document(field string, doc json.RawMessage) json.RawMessage {
	if len(doc) > maxPlanDocumentBytes {
		l.note(field, len(doc), maxPlanDocumentBytes, "omitted")
		return json.RawMessage("null")
	}
	return rawOrNull(doc)
}

// conditions bounds the count and each message.
func (l *limiter) conditions(all []store.Condition) []store.Condition {
	out := slices.Clone(all)
	if len(out) > maxConditions {
		l.note("conditions", len(out), maxConditions, "truncated")
		out = out[:maxConditions]
	}
	for i := range out {
		out[i].Message = l.head(fmt.Sprintf("conditions[%d].message", i), out[i].Message, maxMessageBytes)
	}
	if out == nil {
		out = []store.Condition{}
	}
	return out
}
