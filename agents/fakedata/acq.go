package fakedata

import (
	"math"

	"github.com/ocsflux/ocsflux/agents"
)

// The random walk of acq, as in Python: every channel's level starts at
// startLevel and moves by uniform(-1, 1) × levelStep per report; each
// sample is the level plus uniform(-1, 1) × noise.
const (
	startLevel = 0.100
	levelStep  = 0.003
	noise      = 0.002
	// maxBehind: a loop more than this many report intervals late drops
	// the missed data and starts again from now.
	maxBehind = 3
)

// acq is the acq process (Python's FakeDataAgent.acq).
//
// Differences from Python, none visible in the data: a stop is noticed at
// once (Python polls at least once a second); degraded flips exactly at
// the end of each degradation_period (Python checks once per loop, up to
// 1 s late); time comparisons use >= so that a clock that stands still
// between wake-ups (tests) cannot make the loop spin.
func (a *Agent) acq(s *agents.Session, p agents.Params) (bool, string, error) {
	log := s.Logger()
	testMode := p.Bool("test_mode")
	degrade := !p.IsNull("degradation_period")
	period := p.Float("degradation_period")
	interval := ReportInterval.Seconds()

	levels := make([]float64, len(a.channels))
	for i := range levels {
		levels[i] = startLevel
	}
	nextTimestamp := a.now()
	nextReport := nextTimestamp + interval
	nextFlip := math.Inf(-1) // the first flip is immediate
	degraded := false
	pubFailing := false

	log.Info("Starting acquisition")
	for {
		select {
		case <-s.Stopping():
			log.Info("Requested process stop.")
			return a.endAcq(s)
		default:
		}

		now := a.now()
		if degrade && now >= nextFlip {
			degraded = !degraded
			s.SetDegraded(degraded)
			nextFlip = now + period
		}

		delay := nextReport - now
		if delay > 0 {
			wait := delay
			if degrade && nextFlip > now && nextFlip-now < wait {
				wait = nextFlip - now
			}
			select {
			case <-s.Stopping():
				log.Info("Requested process stop.")
				return a.endAcq(s)
			case <-a.clock.After(seconds(wait)):
			}
			continue
		}

		// Safety: if we ever get way behind, reset.
		if delay/interval < -maxBehind {
			log.Info("Got way behind in reporting; dropping fake data.", "behind_s", -delay)
			nextTimestamp = now
			nextReport = nextTimestamp + interval
			continue
		}

		// Pretend we got it exactly; the fraction carries over.
		n := int((nextReport - nextTimestamp) * a.rate)
		nextReport += interval
		if n <= 0 { // a sample rate below one per report
			continue
		}

		timestamps := make([]float64, n)
		for k := range timestamps {
			timestamps[k] = nextTimestamp + float64(k)/a.rate
		}
		data := make(map[string]any, len(a.channels))
		fields := make(map[string]any, len(a.channels))
		a.randMu.Lock()
		for i, name := range a.channels {
			levels[i] += a.uniform() * levelStep
			values := make([]float64, n)
			for k := range values {
				values[k] = levels[i] + a.uniform()*noise
			}
			data[name] = values
			fields[name] = values[n-1]
		}
		a.randMu.Unlock()
		nextTimestamp += float64(n) / a.rate

		if err := a.feed.PublishBlock(BlockName, timestamps, data); err != nil {
			if !pubFailing {
				log.Warn("could not publish to feed; data lost", "feed", FeedName, "err", err)
			}
			pubFailing = true
		} else if pubFailing {
			log.Info("publishing to feed again", "feed", FeedName)
			pubFailing = false
		}
		s.MergeData(map[string]any{"fields": fields, "timestamp": timestamps[n-1]})

		if testMode {
			return a.endAcq(s)
		}
	}
}

// endAcq flushes the feed buffer and ends acq.
func (a *Agent) endAcq(s *agents.Session) (bool, string, error) {
	if err := a.feed.Flush(); err != nil {
		s.Logger().Warn("could not flush feed; data lost", "feed", FeedName, "err", err)
	}
	return true, "Acquisition exited cleanly.", nil
}

// uniform returns a number uniformly distributed in [-1, 1), as numpy's
// uniform(-1, 1). Hold randMu.
func (a *Agent) uniform() float64 { return 2*a.rng.Float64() - 1 }
