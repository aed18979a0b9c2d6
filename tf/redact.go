package tf

import (
	"bytes"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// Redacted replaces every secret in captured terraform output.
const Redacted = "[REDACTED]"

// DefaultLogTail is how much of a run's output is kept for the run history.
const DefaultLogTail = 16 << 10

// redactor replaces a run's secrets (credential values, the state
// database's connection string and password) with Redacted, and the
// host's path of the project's work directory with "." (relativeTo).
type redactor struct {
	r       *strings.Replacer // nil when there is nothing to hide
	secrets []string
	dirs    []string // work directory spellings, longest first
}

// newRedactor builds a redactor for the given secret values. Empty values
// are ignored. Longer secrets are matched first so that a secret containing
// another (a connection string containing its password) is hidden whole.
func newRedactor(secrets ...string) *redactor {
	seen := map[string]bool{}
	var list []string
	for _, s := range secrets {
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		list = append(list, s)
	}
	sort.Slice(list, func(i, j int) bool {
		if len(list[i]) != len(list[j]) {
			return len(list[i]) > len(list[j])
		}
		return list[i] < list[j]
	})
	red := &redactor{secrets: list}
	red.build()
	return red
}

// relativeTo returns a redactor that also shows paths inside dir, the
// project's work directory, relative to it: "<dir>/main.tf" becomes
// "main.tf" and dir itself ".". Diagnostics, outputs (abspath(), an
// error naming a file) and run logs then never show where on the host
// projects live. Both dir as given and with symlinks resolved are hidden.
func (r *redactor) relativeTo(dir string) *redactor {
	if dir == "" {
		return r
	}
	out := &redactor{secrets: r.secrets, dirs: append([]string(nil), r.dirs...)}
	spellings := []string{filepath.Clean(dir)}
	if abs, err := filepath.Abs(dir); err == nil {
		spellings = append(spellings, abs)
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		spellings = append(spellings, real)
	}
	for _, d := range spellings {
		if d != "/" && d != "." && !slices.Contains(out.dirs, d) {
			out.dirs = append(out.dirs, d)
		}
	}
	sort.Slice(out.dirs, func(i, j int) bool { return len(out.dirs[i]) > len(out.dirs[j]) })
	out.build()
	return out
}

// build makes the replacer: secrets first (a secret is hidden whole even
// when it contains a path), then each work directory spelling, longest
// first, with its separator before without.
func (r *redactor) build() {
	pairs := make([]string, 0, 2*len(r.secrets)+4*len(r.dirs))
	for _, s := range r.secrets {
		pairs = append(pairs, s, Redacted)
	}
	for _, d := range r.dirs {
		pairs = append(pairs, d+string(filepath.Separator), "")
	}
	for _, d := range r.dirs {
		pairs = append(pairs, d, ".")
	}
	r.r = nil
	if len(pairs) > 0 {
		r.r = strings.NewReplacer(pairs...)
	}
}

func (r *redactor) redact(s string) string {
	if r == nil || r.r == nil {
		return s
	}
	return r.r.Replace(s)
}

// redactValue redacts every string inside a decoded JSON value. Outputs
// and plan values are data, not logs, but they end up in the database and
// in front of users just the same.
func (r *redactor) redactValue(v any) any {
	if r == nil || r.r == nil {
		return v
	}
	switch v := v.(type) {
	case string:
		return r.redact(v)
	case map[string]any:
		if v == nil {
			return v
		}
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = r.redactValue(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = r.redactValue(x)
		}
		return out
	default:
		return v
	}
}

// connSecrets returns the parts of a PostgreSQL connection string that must
// never appear in output: the whole string and the password, both as
// written and decoded, in URL or key=value form.
func connSecrets(conn string) []string {
	if conn == "" {
		return nil
	}
	out := []string{conn}
	if u, err := url.Parse(conn); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			out = append(out, pw, url.QueryEscape(pw), url.PathEscape(pw))
			if raw := u.User.String(); strings.Contains(raw, ":") {
				_, enc, _ := strings.Cut(raw, ":")
				out = append(out, enc)
			}
		}
		return out
	}
	// key=value form: password=secret or password='se cret'
	for _, f := range strings.Fields(conn) {
		if k, v, ok := strings.Cut(f, "="); ok && strings.EqualFold(k, "password") {
			out = append(out, strings.Trim(v, "'"))
		}
	}
	if i := strings.Index(conn, "password='"); i >= 0 {
		rest := conn[i+len("password='"):]
		if j := strings.Index(rest, "'"); j > 0 {
			out = append(out, rest[:j])
		}
	}
	return out
}

// tail keeps the last max bytes written to it.
type tail struct {
	max int
	buf []byte
}

func (t *tail) write(p []byte) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 && len(t.buf) > 2*t.max {
		// Compact only occasionally: copying on every write would make a
		// long run quadratic.
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
}

// String returns the kept tail, starting at a line boundary when one is
// near, and always at a rune boundary.
func (t *tail) String() string {
	b := t.buf
	if over := len(b) - t.max; over > 0 {
		b = b[over:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 && i < 1024 {
			b = b[i+1:]
		}
		for len(b) > 0 && !utf8.RuneStart(b[0]) {
			b = b[1:]
		}
	}
	return string(b)
}

// runLog collects the output of every command of one operation, redacted
// line by line before anything is kept, and keeps its tail.
//
// Redaction happens on whole lines because a secret split across two writes
// would slip through a per-write replace; tfexec already forwards output a
// line at a time, but nothing guarantees it, so each stream buffers up to
// the next newline itself.
type runLog struct {
	mu   sync.Mutex
	red  *redactor
	tail tail
	// sink, when set, gets every redacted line too, in the order the
	// tail got them (WithLogSink).
	sink func(string)
}

func newRunLog(red *redactor, max int) *runLog {
	if max <= 0 {
		max = DefaultLogTail
	}
	return &runLog{red: red, tail: tail{max: max}}
}

func (l *runLog) appendLine(s string) {
	l.mu.Lock()
	l.tail.write([]byte(s))
	if l.sink != nil {
		l.sink(s)
	}
	l.mu.Unlock()
}

// String returns the redacted tail.
func (l *runLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tail.String()
}

// note adds a line of tenantform's own to the log (e.g. "init skipped").
func (l *runLog) note(s string) {
	l.appendLine("[tenantform] " + l.red.redact(s) + "\n")
}

// stream returns a writer for one output stream of one command. Close it
// when the command has finished to flush a last unterminated line.
// copyTo, when non-nil, also receives the redacted lines (used to keep a
// command's stderr for diagnostics).
func (l *runLog) stream(copyTo *strings.Builder) *lineWriter {
	return &lineWriter{log: l, copyTo: copyTo}
}

// maxPendingLine bounds a line that never ends: beyond it the buffered text
// is redacted and flushed anyway (a secret straddling that cut could leak,
// but terraform does not print megabyte-long lines).
const maxPendingLine = 1 << 20

type lineWriter struct {
	mu      sync.Mutex
	log     *runLog
	pending []byte
	copyTo  *strings.Builder
	// A Go program (terraform, a provider) that dies of a fatal error,
	// such as running out of memory under the limit, prints its message
	// and then a stack dump of every goroutine: tens of kB that would push
	// the message out of the log tail and tell the tenant nothing. The
	// dump is counted, not kept.
	sawFatal  bool
	dumpLines int
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = append(w.pending, p...)
	for {
		i := bytes.IndexByte(w.pending, '\n')
		if i < 0 {
			break
		}
		w.emit(w.pending[:i+1])
		w.pending = w.pending[i+1:]
	}
	if len(w.pending) > maxPendingLine {
		w.emit(w.pending)
		w.pending = nil
	}
	if len(w.pending) == 0 {
		w.pending = nil // let a large buffer go
	}
	return len(p), nil
}

func (w *lineWriter) emit(line []byte) {
	switch {
	case w.dumpLines > 0:
		w.dumpLines++
		return
	case w.sawFatal && bytes.HasPrefix(line, []byte("goroutine ")):
		w.dumpLines = 1
		return
	case bytes.HasPrefix(line, []byte("fatal error: ")):
		w.sawFatal = true
	}
	s := w.log.red.redact(string(line))
	w.log.appendLine(s)
	if w.copyTo != nil {
		w.copyTo.WriteString(s)
	}
}

// Close flushes a final line without a newline.
func (w *lineWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pending) > 0 {
		w.emit(append(w.pending, '\n'))
		w.pending = nil
	}
	if w.dumpLines > 0 {
		w.log.note(fmt.Sprintf("%d lines of Go runtime stack dump left out", w.dumpLines))
		w.dumpLines = 0
	}
	return nil
}
