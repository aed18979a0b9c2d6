package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// RunLogChannel is the NOTIFY channel on which a run's row id is announced
// when a chunk of its live log is appended or when it finishes (triggers of
// migration 13): followers of that run then read what is new.
const RunLogChannel = "tenantform_run_logs"

// LogChunk is a piece of a run's live log starting at byte Offset.
type LogChunk struct {
	Offset int64
	Text   string
}

// End is the byte offset just past the chunk.
func (c LogChunk) End() int64 { return c.Offset + int64(len(c.Text)) }

// RunLog is what a run's live log holds past an offset, and whether the run
// has finished (then nothing more will be appended).
type RunLog struct {
	Chunks   []LogChunk
	Finished bool
	Outcome  string
	Error    string
	// More: the answer was cut at its chunk limit; ask again from the
	// last chunk's end.
	More bool
}

// AppendRunLog adds text at offset to the live log of the run whose row id
// is rowID. Only a running run takes chunks: whatever a reconciler sends
// after the run was finished (or abandoned by another) is dropped.
func (s *Store) AppendRunLog(ctx context.Context, rowID, offset int64, text string) error {
	if text == "" {
		return nil // nothing to show; RunLogSince relies on chunks never being empty
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO run_log_chunks (run_id, byte_offset, text)
		SELECT id, $2, $3 FROM runs WHERE id = $1 AND finished_at IS NULL
		ON CONFLICT DO NOTHING`, rowID, offset, text)
	if err != nil {
		return fmt.Errorf("cannot append to the log of run %d: %w", rowID, translate(err))
	}
	return nil
}

// RunLogSince returns at most limit chunks of the run's live log that end
// after offset (the first one cut to start at offset), oldest first, and
// the run's state. A run that finished without a live log (older runs, or
// a reconciler without one) has its log tail as the one chunk at offset 0.
func (s *Store) RunLogSince(ctx context.Context, rowID, offset int64, limit int) (RunLog, error) {
	var l RunLog
	var finished bool
	var tail string // only for a finished run read from the start
	err := s.pool.QueryRow(ctx, `SELECT finished_at IS NOT NULL, outcome, error,
			CASE WHEN finished_at IS NOT NULL AND $2 = 0 THEN log_tail ELSE '' END
		FROM runs WHERE id = $1`, rowID, offset).
		Scan(&finished, &l.Outcome, &l.Error, &tail)
	if err != nil {
		return RunLog{}, translate(err)
	}
	// Read the chunks after the run's state: a run seen finished has
	// already all its chunks (none are taken after the end).
	rows, err := s.pool.Query(ctx, `SELECT byte_offset, text FROM run_log_chunks
		WHERE run_id = $1 AND byte_offset + octet_length(text) > $2 ORDER BY byte_offset LIMIT $3`, rowID, offset, limit+1)
	if err != nil {
		return RunLog{}, translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var c LogChunk
		if err := rows.Scan(&c.Offset, &c.Text); err != nil {
			return RunLog{}, translate(err)
		}
		if c.Offset < offset {
			c.Text, c.Offset = strings.ToValidUTF8(c.Text[offset-c.Offset:], ""), offset
		}
		l.Chunks = append(l.Chunks, c)
	}
	if err := rows.Err(); err != nil {
		return RunLog{}, translate(err)
	}
	if len(l.Chunks) > limit {
		l.Chunks, l.More = l.Chunks[:limit], true
	}
	l.Finished = finished
	// No chunk from offset 0 on is no chunk at all (chunks are never
	// empty): a run without a live log, shown by its tail.
	if finished && len(l.Chunks) == 0 && offset == 0 && tail != "" {
		l.Chunks = []LogChunk{{Offset: 0, Text: tail}}
	}
	return l, nil
}

// ListenRunLogs calls onNotify with the row id of every run whose live log
// grew or that finished, and onConnect after each (re)connection, until
// ctx ends.
func (s *Store) ListenRunLogs(ctx context.Context, onConnect func(), onNotify func(rowID int64), onError func(error)) {
	s.listenChannel(ctx, RunLogChannel, onConnect, func(payload string) {
		if id, err := strconv.ParseInt(payload, 10, 64); err == nil {
			onNotify(id)
		}
	}, onError)
}
