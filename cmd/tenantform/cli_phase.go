package main

import (
	"fmt"
	"time"
)

// A transient failure (phase Retrying) and a terminal one (Failed) read
// differently everywhere the CLI shows a phase: the first says when the
// reconciler tries again, the second that nothing happens until the spec
// changes.

// phaseNote is what describe and a failed watch add after the phase.
func phaseNote(phase string, next *time.Time, now time.Time) string {
	switch phase {
	case "Retrying":
		if next == nil {
			return " (a transient failure: retried automatically)"
		}
		return fmt.Sprintf(" (a transient failure: retried automatically %s)", retryWhen(*next, now))
	case "Failed":
		return " (terminal: nothing is retried until the spec changes)"
	}
	return ""
}

// retryPrefix starts the message column of a Retrying project.
func retryPrefix(phase string, next *time.Time, now time.Time) string {
	if phase != "Retrying" || next == nil {
		return ""
	}
	return "retry " + retryWhen(*next, now) + ": "
}

func retryWhen(next, now time.Time) string {
	if !next.After(now) {
		return "now"
	}
	return "in " + next.Sub(now).Round(time.Second).String()
}
