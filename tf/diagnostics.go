package tf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Diagnostic is one diagnostic terraform reported, as its machine-readable
// output (-json) gives it. Every string has had the run's secrets redacted.
type Diagnostic struct {
	// Severity is "error" or "warning".
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail,omitempty"`
	// Address is the resource instance the diagnostic is about, when
	// terraform says (apply-time errors).
	Address string `json:"address,omitempty"`
	// File and Line locate the configuration the diagnostic is about.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
}

// String renders d on one line: "main.tf:3: Unsupported argument: An
// argument named "bogus" is not expected here."
func (d Diagnostic) String() string {
	var b strings.Builder
	if d.File != "" {
		b.WriteString(d.File)
		if d.Line > 0 {
			fmt.Fprintf(&b, ":%d", d.Line)
		}
		b.WriteString(": ")
	}
	if d.Address != "" {
		b.WriteString(d.Address + ": ")
	}
	b.WriteString(d.Summary)
	if detail := strings.Join(strings.Fields(d.Detail), " "); detail != "" {
		b.WriteString(": " + detail)
	}
	return b.String()
}

// maxDiagnostics bounds what one failure carries into the run history.
const (
	maxDiagnostics   = 20
	maxDiagnosticLen = 4096
)

// diagnosticSet collects distinct diagnostics up to maxDiagnostics. An
// interrupted apply repeats "execution halted" once per pending resource:
// each distinct diagnostic is kept once.
type diagnosticSet struct {
	mu   sync.Mutex
	list []Diagnostic
	seen map[Diagnostic]bool
}

func (s *diagnosticSet) add(d Diagnostic) {
	d.Summary = truncate(d.Summary, maxDiagnosticLen)
	d.Detail = truncate(d.Detail, maxDiagnosticLen)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[Diagnostic]bool{}
	}
	if s.seen[d] || len(s.list) >= maxDiagnostics {
		return
	}
	s.seen[d] = true
	s.list = append(s.list, d)
}

func (s *diagnosticSet) all() []Diagnostic {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Diagnostic(nil), s.list...)
}

// truncate cuts s to at most n bytes, at a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// jsonUIMessage is one line of terraform's machine-readable UI (plan,
// apply and destroy with -json), as far as the engine reads it.
type jsonUIMessage struct {
	Level      string `json:"@level"`
	Message    string `json:"@message"`
	Type       string `json:"type"`
	Diagnostic *struct {
		Severity string `json:"severity"`
		Summary  string `json:"summary"`
		Detail   string `json:"detail"`
		Address  string `json:"address"`
		Range    *struct {
			Filename string `json:"filename"`
			Start    struct {
				Line int `json:"line"`
			} `json:"start"`
		} `json:"range"`
	} `json:"diagnostic"`
	Outputs map[string]struct {
		Sensitive bool            `json:"sensitive"`
		Value     json.RawMessage `json:"value"`
	} `json:"outputs"`
}

// maxLoggedOutputValue bounds how much of an output value the run log
// shows; the log is for people, Outputs returns the values.
const maxLoggedOutputValue = 1024

// jsonUIWriter reads terraform's machine-readable UI from its stdout: each
// diagnostic is collected, redacted, into diags, and the run log gets a
// human-readable line per message (the JSON itself would make the log tail
// unreadable for users).
type jsonUIWriter struct {
	mu      sync.Mutex
	log     *runLog
	diags   *diagnosticSet
	pending []byte
	// skipped counts the bytes of a line too long to keep (over
	// maxPendingLine) until its end.
	skipped int
}

func (w *jsonUIWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = append(w.pending, p...)
	for {
		i := bytes.IndexByte(w.pending, '\n')
		if i < 0 {
			break
		}
		if w.skipped > 0 || i > maxPendingLine {
			w.log.note(fmt.Sprintf("a line of %d bytes of terraform output was left out", w.skipped+i))
			w.skipped = 0
		} else {
			w.line(w.pending[:i])
		}
		w.pending = w.pending[i+1:]
	}
	if len(w.pending) > maxPendingLine {
		w.skipped += len(w.pending)
		w.pending = nil
	}
	if len(w.pending) == 0 {
		w.pending = nil
	}
	return len(p), nil
}

// Close handles a last line without a newline.
func (w *jsonUIWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pending) > 0 && w.skipped == 0 {
		w.line(w.pending)
	}
	w.pending, w.skipped = nil, 0
	return nil
}

func (w *jsonUIWriter) line(raw []byte) {
	red := w.log.red
	var m jsonUIMessage
	if len(bytes.TrimSpace(raw)) == 0 {
		return
	}
	if err := json.Unmarshal(raw, &m); err != nil || m.Type == "" {
		// Not a UI message (terraform prints a few things unframed).
		w.log.appendLine(red.redact(string(raw)) + "\n")
		return
	}
	if m.Type == "outputs" {
		w.log.appendLine(red.redact(m.Message) + "\n")
		for _, name := range sortedKeys(m.Outputs) {
			o := m.Outputs[name]
			// Redact the decoded value: a secret holding characters JSON
			// escapes would not match in the encoded text.
			var decoded any
			_ = json.Unmarshal(o.Value, &decoded)
			enc, _ := json.Marshal(red.redactValue(decoded))
			v := truncate(string(enc), maxLoggedOutputValue)
			if o.Sensitive {
				v = "(sensitive value)"
			}
			w.log.appendLine(red.redact(name+" = "+v) + "\n")
		}
		return
	}
	if m.Type != "diagnostic" || m.Diagnostic == nil {
		w.log.appendLine(red.redact(m.Message) + "\n")
		return
	}
	jd := m.Diagnostic
	d := Diagnostic{
		Severity: jd.Severity,
		Summary:  red.redact(jd.Summary),
		Detail:   red.redact(jd.Detail),
		Address:  red.redact(jd.Address),
	}
	if jd.Range != nil {
		d.File = red.redact(jd.Range.Filename)
		d.Line = jd.Range.Start.Line
	}
	w.diags.add(d)
	w.log.appendLine(humanDiagnostic(d))
}

// humanDiagnostic is how the run log shows a diagnostic, close to
// terraform's own human-readable output.
func humanDiagnostic(d Diagnostic) string {
	var b strings.Builder
	sev := "Error"
	if d.Severity == "warning" {
		sev = "Warning"
	}
	fmt.Fprintf(&b, "%s: %s\n", sev, d.Summary)
	if d.File != "" {
		fmt.Fprintf(&b, "  on %s line %d", d.File, d.Line)
		if d.Address != "" {
			fmt.Fprintf(&b, ", in %s", d.Address)
		}
		b.WriteString("\n")
	}
	if d.Detail != "" {
		b.WriteString(d.Detail + "\n")
	}
	return b.String()
}

// parseDiagnostics extracts terraform's error diagnostics from its
// human-readable output, for the commands without -json (init, workspace).
// With -no-color terraform frames each diagnostic as
//
//	╷
//	│ Error: Summary line
//	│
//	│   on main.tf line 3, in resource ...
//	│    3:   bogus = 1
//	│
//	│ Detail text
//	╵
//
// (older or non-framed output has the same lines without "│ "). Warnings are
// skipped: they do not explain a failure.
func parseDiagnostics(stderr string) []Diagnostic {
	var (
		set     diagnosticSet
		cur     []string
		inError bool
	)
	flush := func() {
		if inError {
			if d, ok := parseHumanDiagnostic(cur); ok {
				set.add(d)
			}
		}
		cur, inError = nil, false
	}
	for _, line := range strings.Split(stderr, "\n") {
		framed := false
		switch {
		case strings.HasPrefix(line, "╷"):
			flush()
			continue
		case strings.HasPrefix(line, "╵"):
			flush()
			continue
		case strings.HasPrefix(line, "│"):
			line = strings.TrimPrefix(strings.TrimPrefix(line, "│"), " ")
			framed = true
		}
		switch {
		case strings.HasPrefix(line, "Error: "):
			flush()
			inError = true
			cur = append(cur, line)
		case strings.HasPrefix(line, "Warning: "):
			flush()
		case inError:
			if !framed && line == "" && len(cur) > 1 && cur[len(cur)-1] == "" {
				// Two blank lines end an unframed diagnostic.
				flush()
				continue
			}
			cur = append(cur, line)
		}
	}
	flush()
	return set.all()
}

var (
	// "  on main.tf line 3, in resource "x" "y":" or "  on main.tf line 3:"
	onLineRE = regexp.MustCompile(`^\s+on (.+?) line (\d+)(?:, in .*)?:?$`)
	// "   3:   bogus = 1" and the "├────" annotations of a snippet.
	snippetRE = regexp.MustCompile(`^\s+(\d+:|├|│)`)
)

func parseHumanDiagnostic(lines []string) (Diagnostic, bool) {
	if len(lines) == 0 {
		return Diagnostic{}, false
	}
	d := Diagnostic{Severity: "error", Summary: strings.TrimSpace(strings.TrimPrefix(lines[0], "Error: "))}
	var detail []string
	for _, l := range lines[1:] {
		if m := onLineRE.FindStringSubmatch(l); m != nil && d.File == "" {
			d.File = m[1]
			d.Line, _ = strconv.Atoi(m[2])
			continue
		}
		if d.File != "" && snippetRE.MatchString(l) {
			continue
		}
		detail = append(detail, l)
	}
	d.Detail = strings.TrimSpace(strings.Join(detail, "\n"))
	return d, d.Summary != ""
}
