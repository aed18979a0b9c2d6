package metrics

import "time"

// SetStateClock sets the clock a State measures its readings' age with.
func SetStateClock(s *State, now func() time.Time) { s.now = now }
