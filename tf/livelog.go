package tf

import "context"

// A run's output is kept as a tail for the run history; a reconciler that
// also wants it while the operation runs (to serve a live log) passes a
// sink in the operation's context. The sink gets only what the tail gets:
// lines already redacted, with secrets and stack dumps left out.

type logSinkKey struct{}

// WithLogSink returns ctx carrying sink: every line an operation run under
// ctx (Plan, ApplySaved, Destroy...) adds to its log is passed to sink as
// well, redacted, in order, as it is written. sink must not block: it runs
// while terraform's output is being read.
func WithLogSink(ctx context.Context, sink func(line string)) context.Context {
	return context.WithValue(ctx, logSinkKey{}, sink)
}

func logSinkFrom(ctx context.Context) func(string) {
	sink, _ := ctx.Value(logSinkKey{}).(func(string))
	return sink
}

func withSink(l *runLog, sink func(string)) *runLog {
	l.sink = sink
	return l
}
