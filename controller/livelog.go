package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tenantform/tenantform/tf"
)

// A run's live log: while terraform runs, its redacted output is appended
// to the run in chunks (store.AppendRunLog), so `tenantform logs -f` and
// GET …/runs/{n}/log?watch=true can follow a running run. Lines are
// batched: one insert per liveLogFlush (or per liveLogChunk bytes) per
// running operation, however chatty terraform is.

// LiveLogStore is the optional slice of the store that keeps live logs;
// a Store without it (a test's) keeps only the tail FinishRun records.
type LiveLogStore interface {
	AppendRunLog(ctx context.Context, rowID, offset int64, text string) error
}

const (
	// liveLogFlush is how long output may wait before it is appended.
	liveLogFlush = time.Second
	// liveLogChunk appends at once when this much is waiting.
	liveLogChunk = 16 << 10
	// liveLogMax bounds one run's live log; past it one note says the log
	// stops (the run still keeps the tail of its output).
	liveLogMax = 1 << 20
)

// liveLog buffers one run's lines and appends them from its own goroutine,
// so terraform's output is never held up by the database.
type liveLog struct {
	st    LiveLogStore
	rowID int64
	log   *zap.Logger

	mu      sync.Mutex
	buf     strings.Builder
	taken   int64 // bytes accepted into the log, buffered or appended
	cut     bool  // liveLogMax was reached
	kick    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
}

// startLiveLog starts the live log of run rowID, or returns nil when the
// store keeps none.
func (ps *pass) startLiveLog(rowID int64) *liveLog {
	st, ok := ps.c.store.(LiveLogStore)
	if !ok {
		return nil
	}
	l := &liveLog{st: st, rowID: rowID, log: ps.log, kick: make(chan struct{}, 1),
		stop: make(chan struct{}), stopped: make(chan struct{})}
	go l.run()
	return l
}

// line takes one redacted line of output (tf.WithLogSink).
func (l *liveLog) line(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cut {
		return
	}
	if l.taken+int64(len(s)) > liveLogMax {
		l.cut = true
		s = fmt.Sprintf("[tenantform] the live log stops here (%d KiB); the run keeps the tail of the output\n", liveLogMax>>10)
	}
	l.buf.WriteString(s)
	l.taken += int64(len(s))
	if l.buf.Len() >= liveLogChunk {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

func (l *liveLog) run() {
	defer close(l.stopped)
	tick := time.NewTicker(liveLogFlush)
	defer tick.Stop()
	var offset int64
	for {
		var stopping bool
		select {
		case <-tick.C:
		case <-l.kick:
		case <-l.stop:
			stopping = true
		}
		l.mu.Lock()
		text := l.buf.String()
		l.buf.Reset()
		l.mu.Unlock()
		if text != "" {
			// PostgreSQL text holds neither NUL nor invalid UTF-8.
			text = strings.ToValidUTF8(strings.ReplaceAll(text, "\x00", ""), "\uFFFD")
			ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
			if err := l.st.AppendRunLog(ctx, l.rowID, offset, text); err != nil {
				// The live log is a convenience: the run's tail is kept
				// by FinishRun whatever happens here.
				l.log.Debug("cannot append to the live log", zap.Int64("run_row", l.rowID), zap.Error(err))
			}
			cancel()
			offset += int64(len(text))
		}
		if stopping {
			return
		}
	}
}

// close appends what is left and returns once it is written: before the
// run is finished, since a finished run takes no more chunks.
func (l *liveLog) close() {
	if l == nil {
		return
	}
	close(l.stop)
	<-l.stopped
}

// withLiveLog has the operations run under ctx feed l.
func withLiveLog(ctx context.Context, l *liveLog) context.Context {
	if l == nil {
		return ctx
	}
	return tf.WithLogSink(ctx, l.line)
}
