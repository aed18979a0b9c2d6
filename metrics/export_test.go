package metrics

import "time"

// SetStateClock sets the clock a State measures its readings' age with.
func SetStateClock(s *State, now func() time.Time) { s.now = now }

// SetStateEvents has f told when s builds what scrapes serve of a reading
// ("gather", "encode <format>", "gzip <format>") and when a reading made
// in the background is stored ("refreshed"). Set it before s is used.
func SetStateEvents(s *State, f func(event string)) { s.events = f }

// AcceptsGzip is acceptsGzip.
var AcceptsGzip = acceptsGzip
