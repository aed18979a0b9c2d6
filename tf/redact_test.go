package tf

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRedactor(t *testing.T) {
	r := newRedactor("pw", "postgres://u:pw@h/db", "", "AKIA123")
	got := r.redact("conn postgres://u:pw@h/db, pw alone, key AKIA123")
	want := "conn " + Redacted + ", " + Redacted + " alone, key " + Redacted
	if got != want {
		t.Errorf("redact = %q, want %q", got, want)
	}
	if newRedactor().redact("x") != "x" || (*redactor)(nil).redact("x") != "x" {
		t.Error("empty redactor changed text")
	}
	v := r.redactValue(map[string]any{"a": []any{"has pw", 1.0}, "b": nil})
	if diff := cmp.Diff(map[string]any{"a": []any{"has " + Redacted, 1.0}, "b": nil}, v); diff != "" {
		t.Errorf("redactValue (-want +got):\n%s", diff)
	}
}

func TestConnSecrets(t *testing.T) {
	for conn, want := range map[string][]string{
		"postgres://user:p%40ss@host:5432/db?sslmode=disable": {"p@ss", "p%40ss"},
		"host=h user=u password=hunter2 dbname=d":             {"hunter2"},
		"host=h password='with space' dbname=d":               {"with space"},
		"postgres://user@host/db":                             nil,
	} {
		got := connSecrets(conn)
		if got[0] != conn {
			t.Errorf("%s: the whole string is not a secret", conn)
		}
		for _, w := range want {
			found := false
			for _, g := range got {
				found = found || g == w
			}
			if !found {
				t.Errorf("%s: %q not among secrets %q", conn, w, got)
			}
		}
	}
	if connSecrets("") != nil {
		t.Error("empty connection string has secrets")
	}
}

// TestRunLogSplitWrites: a secret split over several writes (and streams
// writing concurrently) is still redacted, and only the tail is kept.
func TestRunLogSplitWrites(t *testing.T) {
	secret := "SUPERSECRETVALUE"
	l := newRunLog(newRedactor(secret), 256)
	w := l.stream(nil)
	for _, part := range []string{"line one\nthe key is SUPER", "SECRET", "VALUE and more\n", "last ", secret} {
		w.Write([]byte(part))
	}
	w.Close()
	got := l.String()
	if strings.Contains(got, "SUPER") || strings.Contains(got, "VALUE ") {
		t.Errorf("secret leaked: %q", got)
	}
	want := "line one\nthe key is " + Redacted + " and more\nlast " + Redacted + "\n"
	if got != want {
		t.Errorf("log = %q, want %q", got, want)
	}

	// Only the tail is kept, starting at a line.
	l = newRunLog(newRedactor(), 100)
	w = l.stream(nil)
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(w, "line %04d\n", i)
	}
	got = l.String()
	if len(got) > 100 || !strings.HasPrefix(got, "line ") || !strings.HasSuffix(got, "line 0999\n") {
		t.Errorf("tail = %q", got)
	}
}

func TestRunLogCopiesStderr(t *testing.T) {
	l := newRunLog(newRedactor("tok"), 0)
	var stderr strings.Builder
	w := l.stream(&stderr)
	w.Write([]byte("Error: bad tok\n"))
	w.Close()
	if stderr.String() != "Error: bad "+Redacted+"\n" || l.String() != stderr.String() {
		t.Errorf("stderr copy %q, log %q", stderr.String(), l.String())
	}
}
