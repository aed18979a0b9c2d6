package tf

import (
	"context"
	"strings"
	"testing"
)

// TestLogSinkGetsTheRedactedLines: a sink passed in the operation's
// context gets what the log tail gets — whole lines, secrets redacted,
// split writes joined — in order, as they are written.
func TestLogSinkGetsTheRedactedLines(t *testing.T) {
	t.Parallel()
	var got []string
	ctx := WithLogSink(context.Background(), func(line string) { got = append(got, line) })
	log := withSink(newRunLog(newRedactor("s3cr3t"), DefaultLogTail), logSinkFrom(ctx))
	w := log.stream(nil)
	w.Write([]byte("Initializing... token=s3c"))
	w.Write([]byte("r3t here\nPlan: 1 to add\nno newline"))
	if len(got) != 2 {
		t.Fatalf("before Close the sink got %q, want the 2 whole lines", got)
	}
	w.Close()
	joined := strings.Join(got, "")
	if len(got) != 3 || !strings.HasPrefix(got[0], "Initializing... token=") || !strings.HasSuffix(got[0], " here\n") ||
		got[1] != "Plan: 1 to add\n" || !strings.HasPrefix(got[2], "no newline") {
		t.Errorf("the sink got %q, want the three lines", got)
	}
	if strings.Contains(joined, "s3cr3t") {
		t.Errorf("the sink got the secret: %q", got)
	}
	if joined != log.String() {
		t.Errorf("the sink %q differs from the tail %q", joined, log.String())
	}
	if logSinkFrom(context.Background()) != nil {
		t.Error("a context without a sink has one")
	}
}
