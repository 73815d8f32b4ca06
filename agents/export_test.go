package agents

import "time"

// Test hooks, compiled only into this package's tests.

// SetClock replaces the agent's clock (session and message timestamps,
// feed buffering). Call before Run.
func SetClock(a *Agent, now func() time.Time) { a.now = now }

// PurgeMessages runs the periodic message purge now.
func PurgeMessages(a *Agent) { a.ops.do(a.ops.purgeAll) }
