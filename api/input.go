package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Text that PostgreSQL cannot store must be refused here, with a 400 that
// names where it was, not discovered by the database as a 500: text and
// jsonb columns refuse NUL (and jsonb refuses the escape \u0000 and
// unpaired UTF-16 surrogates), and the database's encoding is UTF-8.
// encoding/json would not help: it quietly turns invalid UTF-8 and lone
// surrogates into U+FFFD, so what was stored would not be what was sent.
//
// checkInput covers everything a request carries besides its body: the
// path, the query and the headers. checkJSONText covers bodies (see
// decodeBody). Both run before routing or decoding, so no handler ever
// sees such text.

// textProblem says what is wrong with s as text, or "".
func textProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "contains a NUL character"
	}
	return ""
}

// encodingError is the 400 for text that cannot be stored. where names the
// place ("path segment 3", "query parameter after", "body field
// variables.n"); the message repeats it so a client that shows only
// messages still says where.
func encodingError(where, problem string) *apiError {
	e := badRequest("%s %s; every string must be valid UTF-8 without NUL characters", where, problem)
	e.details = []fieldProblem{{Field: where, Message: problem}}
	return e
}

// checkInput refuses a request whose path, query or headers hold text that
// is not valid UTF-8 or contains NUL. It runs before the router, so even
// an unknown route answers such a request with the 400.
func (s *server) checkInput(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := requestTextProblem(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requestTextProblem checks the path, the query and the headers of r.
func requestTextProblem(r *http.Request) *apiError {
	if err := pathProblem(r.URL.EscapedPath()); err != nil {
		return err
	}
	if err := queryProblem(r.URL.RawQuery); err != nil {
		return err
	}
	return headerProblem(r.Header)
}

// pathProblem checks each segment of the path as the router will see it
// (percent-decoded). Segments are counted from 1 after the leading slash.
func pathProblem(escaped string) *apiError {
	for i, seg := range strings.Split(strings.TrimPrefix(escaped, "/"), "/") {
		where := "path segment " + strconv.Itoa(i+1)
		dec, err := url.PathUnescape(seg)
		if err != nil {
			return encodingError(where, "has an invalid percent-escape")
		}
		if p := textProblem(dec); p != "" {
			return encodingError(where, p)
		}
	}
	return nil
}

// queryProblem checks every name and value of the query. A malformed
// escape is refused too: net/url would silently drop the pair, and a
// parameter that is quietly ignored is worse than an error.
func queryProblem(raw string) *apiError {
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		if strings.Contains(pair, ";") {
			// net/url drops such a pair rather than guess which
			// separator was meant; say so instead.
			return badRequest("the query contains \";\"; separate parameters with \"&\" and escape a literal semicolon as %%3B")
		}
		rawName, rawValue, _ := strings.Cut(pair, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			return encodingError("the query", "has an invalid percent-escape")
		}
		if p := textProblem(name); p != "" {
			return encodingError("a query parameter name", p)
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil {
			return encodingError("query parameter "+name, "has an invalid percent-escape")
		}
		if p := textProblem(value); p != "" {
			return encodingError("query parameter "+name, p)
		}
	}
	return nil
}

// headerProblem checks header values (net/http already refuses control
// characters in names and values, but lets bytes 0x80-0xFF through).
func headerProblem(h http.Header) *apiError {
	for name, values := range h {
		for _, v := range values {
			if p := textProblem(v); p != "" {
				return encodingError("header "+name, p)
			}
		}
	}
	return nil
}

// checkJSONText walks a JSON document and refuses the first string (object
// key or value, at any depth) that PostgreSQL could not store: raw bytes
// that are not UTF-8, a NUL byte, the escape \u0000, or an unpaired
// surrogate escape. It names the string by its path in the document
// ("variables.tags.owner", "files[\"main.tf\"]"). Syntax errors are left to
// the decoder that follows, which reports them in its own words.
func checkJSONText(body []byte) *apiError {
	if i := bytes.IndexByte(body, 0); i >= 0 {
		return encodingError("the request body", fmt.Sprintf("contains a NUL byte (at byte %d)", i))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	w := jsonWalker{body: body, dec: dec}
	return w.walk()
}

// maxJSONDepth bounds the nesting of a request body. encoding/json's
// token stream keeps a frame per open level without limit, so a body of a
// million "[" would cost tens of megabytes; no variable needs this depth.
const maxJSONDepth = 100

// jsonWalker tracks where a token sits while the decoder streams them.
type jsonWalker struct {
	body []byte
	dec  *json.Decoder
	// stack holds one frame per open object or array.
	stack []jsonFrame
}

type jsonFrame struct {
	array bool
	// name is this container's own path, "" for the document itself.
	name string
	// key is the pending object key (a value is expected next); index
	// counts array elements.
	key     string
	wantKey bool
	index   int
}

func (w *jsonWalker) walk() *apiError {
	for {
		start := w.dec.InputOffset()
		tok, err := w.dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return nil // a syntax error: the real decoder reports it
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if len(w.stack) >= maxJSONDepth {
					return badRequest("the request body nests objects and arrays more than %d deep (at %s)", maxJSONDepth, fieldWhere(w.valuePath()))
				}
				name := w.valuePath()
				w.stack = append(w.stack, jsonFrame{array: v == '[', name: name, wantKey: v == '{'})
			case '}', ']':
				w.stack = w.stack[:len(w.stack)-1]
				w.valueDone()
			}
		case string:
			raw := rawToken(w.body, start, w.dec.InputOffset())
			isKey := len(w.stack) > 0 && !w.top().array && w.top().wantKey
			if p := rawStringProblem(raw); p != "" {
				if isKey {
					return encodingError("a key of "+w.containerName(), p)
				}
				return encodingError(fieldWhere(w.valuePath()), p)
			}
			if isKey {
				w.top().key, w.top().wantKey = v, false
				continue
			}
			w.valueDone()
		default:
			w.valueDone()
		}
	}
}

func (w *jsonWalker) top() *jsonFrame { return &w.stack[len(w.stack)-1] }

// valueDone moves past a complete value in the enclosing container.
func (w *jsonWalker) valueDone() {
	if len(w.stack) == 0 {
		return
	}
	f := w.top()
	if f.array {
		f.index++
	} else {
		f.wantKey = true
	}
}

func (w *jsonWalker) containerName() string {
	if len(w.stack) == 0 {
		return "the request body"
	}
	return fieldWhere(w.top().name)
}

// valuePath is the path of the value about to be read.
func (w *jsonWalker) valuePath() string {
	if len(w.stack) == 0 {
		return ""
	}
	f := w.top()
	if f.array {
		return f.name + "[" + strconv.Itoa(f.index) + "]"
	}
	if plainKey(f.key) {
		if f.name == "" {
			return f.key
		}
		return f.name + "." + f.key
	}
	return f.name + "[" + strconv.Quote(f.key) + "]"
}

// fieldWhere names a value of the body by its path.
func fieldWhere(path string) string {
	if path == "" {
		return "the request body"
	}
	return "body field " + path
}

// plainKey says whether a key reads unambiguously after a dot.
func plainKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
		if !ok {
			return false
		}
	}
	return true
}

// rawToken returns the raw text of the string token that ended at end:
// the decoder's offset before Token points before the separators (",",
// ":") and blanks that precede the string.
func rawToken(body []byte, start, end int64) []byte {
	raw := body[start:end]
	if i := bytes.IndexByte(raw, '"'); i >= 0 {
		return raw[i:]
	}
	return raw
}

// rawStringProblem checks a raw JSON string literal, quotes included.
func rawStringProblem(raw []byte) string {
	if !utf8.Valid(raw) {
		return "is not valid UTF-8"
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		i++
		if i >= len(raw) || raw[i] != 'u' {
			continue // \" \\ \n …: one character, skipped
		}
		r, ok := hex4(raw, i+1)
		if !ok {
			return "" // a malformed escape: the decoder reports it
		}
		i += 4
		switch {
		case r == 0:
			return "contains a NUL character (\\u0000)"
		case r >= 0xDC00 && r <= 0xDFFF:
			return "contains an unpaired UTF-16 surrogate escape"
		case r >= 0xD800 && r <= 0xDBFF:
			// A high surrogate must be followed by a low one.
			if i+2 >= len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' {
				return "contains an unpaired UTF-16 surrogate escape"
			}
			lo, ok := hex4(raw, i+3)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return "contains an unpaired UTF-16 surrogate escape"
			}
			i += 6
		}
	}
	return ""
}

// hex4 reads four hex digits at raw[at:].
func hex4(raw []byte, at int) (rune, bool) {
	if at+4 > len(raw) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(raw[at:at+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	return rune(n), true
}

// cursorProblem refuses a list cursor whose decoded text PostgreSQL could
// not compare: cursors are opaque base64url to clients, but the store
// compares what they decode to with stored names. A cursor that does not
// decode at all is the store's to refuse (ErrInvalidCursor).
func cursorProblem(after string) *apiError {
	raw, err := base64.RawURLEncoding.DecodeString(after)
	if err != nil {
		return nil
	}
	if p := textProblem(string(raw)); p != "" {
		return encodingError("query parameter after", "is not a cursor this server returned (it "+p+")")
	}
	return nil
}
