package fakedata

import (
	"fmt"
	"time"

	"github.com/ocsflux/ocsflux/agents"
)

// count is the count process (Python's count_seconds): session data
// {"counter": n, "last_update": t}, one step per second until stopped.
//
// Python notices the stop only after its current one-second sleep and
// counts once more; this port returns at once.
func (a *Agent) count(s *agents.Session, _ agents.Params) (bool, string, error) {
	counter := 0
	s.SetData(map[string]any{"counter": counter, "last_update": a.now()})
	for {
		select {
		case <-s.Stopping():
			return true, "Exited on request.", nil
		case <-a.clock.After(time.Second):
		}
		counter++
		s.SetData(map[string]any{"counter": counter, "last_update": a.now()})
	}
}

// setHeartbeat is the set_heartbeat task: it switches the agent's heartbeat
// publishing on or off.
func (a *Agent) setHeartbeat(s *agents.Session, p agents.Params) (bool, string, error) {
	on := p.Bool("heartbeat")
	a.agent.SetHeartbeat(on)
	s.Logger().Info(fmt.Sprintf("Setting heartbeat_on: %s...", pyBool(on)))
	return true, "Set heartbeat_on: " + pyBool(on), nil
}

// credLevel is the credential level sessions are started with. The
// runtime implements only OCS's access policy "none", under which every
// client gets level 1.
const credLevel = 1

// delayTask is the delay_task task: it waits delay seconds, updating
// {"requested_delay", "delay_so_far"} at least every 0.5 s, and ends with
// success = succeed, or false when aborted.
//
// An abort is noticed at once and reports the time elapsed at the abort
// (also stored as delay_so_far); Python notices it after its current
// 0.5 s sleep and reports the delay_so_far of the update before.
func (a *Agent) delayTask(s *agents.Session, p agents.Params) (bool, string, error) {
	delay := p.Float("delay")
	succeed := p.Bool("succeed")

	// Python's test hook for access control: a level-2 client may not
	// delay for 3.33 s. Under policy "none" the level is always 1, so this
	// never triggers here; it is kept for when other policies exist.
	if credLevel == 2 && delay == 3.33 {
		return false, "Actually you need access level 3+ to delay for 3.33 seconds.", nil
	}

	t0 := a.now()
	soFar := 0.0
	update := func() {
		soFar = a.now() - t0
		s.SetData(map[string]any{"requested_delay": delay, "delay_so_far": soFar})
	}
	for {
		update()
		// Python loops while the remaining time is >= 0 and exits when it
		// is negative; with a clock that stands still between wake-ups
		// (tests) exactly 0 would loop forever, so 0 ends the wait too.
		sleep := min(0.5, delay-soFar)
		if sleep <= 0 {
			break
		}
		select {
		case <-s.Stopping():
			update()
			return false, fmt.Sprintf("Aborted after %.1f seconds", soFar), nil
		case <-a.clock.After(seconds(sleep)):
		}
	}
	return succeed, fmt.Sprintf("Exited after %.1f seconds", soFar), nil
}

// pyBool formats b as Python's str(bool).
func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
