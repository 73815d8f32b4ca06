package fakedata

import (
	"time"
)

// Clock is the time source of the ops: acq's report interval and
// degradation period, count's second and delay_task's delay. A nil
// Config.Clock means real time. Tests inject a clock they advance by hand.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After returns a channel that receives once d has passed (at once if
	// d <= 0). The caller may abandon it.
	After(d time.Duration) <-chan time.Time
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// unixSeconds converts t to Unix seconds as a float, like Python's
// time.time().
func unixSeconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

// seconds converts a float number of seconds to a Duration (0 if negative
// or NaN).
func seconds(s float64) time.Duration {
	if !(s > 0) {
		return 0
	}
	if s >= float64(1<<62)/1e9 {
		return time.Duration(1 << 62)
	}
	return time.Duration(s * float64(time.Second))
}
