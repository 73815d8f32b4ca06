package loadgen

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/internal/pyrepr"
)

// AgentClass is the agent_class in the simulated agents' feed_info.
const AgentClass = "BenchAgent"

// BlockName is the one block of every bench message.
const BlockName = "bench"

// Names of the fields --mix adds to every sample: an int (a sequence
// number), a bool and a string.
const (
	MixIntField    = "count"
	MixBoolField   = "ok"
	MixStringField = "mode"
)

// FieldName is the name of float field i of n: f00..f09 for 10 fields
// (zero-padded to at least two digits). The bench counts and polls field 0.
func FieldName(i, n int) string {
	w := len(fmt.Sprint(n - 1))
	if w < 2 {
		w = 2
	}
	return fmt.Sprintf("f%0*d", w, i)
}

// AgentAddress is agent k's address in run runID.
func AgentAddress(root, runID string, k int) string {
	return fmt.Sprintf("%s.bench-%s-%d", root, runID, k)
}

// StepFeed is the feed name of step i (from 1) at rate points per second.
func StepFeed(rate int64, i int) string { return fmt.Sprintf("r%d_s%d", rate, i) }

// WarmupFeed is the feed of the probe messages sent before the first step.
const WarmupFeed = "warmup"

// FeedInfo is OCS's feed_info for a recorded feed of a simulated agent:
// exactly the seven keys of ocs_feed.Feed.encoded().
func FeedInfo(agentAddress, feed, sessionID string) wamp.Dict {
	return wamp.Dict{
		"agent_address": agentAddress,
		"agg_params":    wamp.Dict{},
		"feed_name":     feed,
		"address":       agentAddress + ".feeds." + feed,
		"record":        true,
		"session_id":    sessionID,
		"agent_class":   AgentClass,
	}
}

// SessionID formats a process start time as OCS does: Python's
// str(time.time()), always with a fractional part.
func SessionID(t time.Time) string {
	return string(pyrepr.AppendFloat(nil, float64(t.UnixNano())/1e9))
}

// EventArgs are the WAMP arguments of a feed event: one positional
// argument, the pair [message, feed_info].
func EventArgs(message, feedInfo wamp.Dict) wamp.List {
	return wamp.List{wamp.List{message, feedInfo}}
}

// sampler builds one agent's messages. Timestamps are publish wall times
// in whole microseconds, strictly increasing per agent, so no two samples
// of an agent share an InfluxDB timestamp.
type sampler struct {
	fields []string
	mix    bool
	rng    *rand.Rand
	seq    int64
	lastUs int64 // newest timestamp used, µs since the epoch
}

func newSampler(fields []string, mix bool, seed uint64) *sampler {
	return &sampler{fields: fields, mix: mix, rng: rand.New(rand.NewPCG(seed, 0x6f6373666c7578))}
}

// message builds a message of n samples published at now and returns it
// with its newest sample's timestamp in µs. The message is freshly
// allocated: nexus serializes it after Publish returns.
func (s *sampler) message(now time.Time, n int) (wamp.Dict, int64) {
	base := now.UnixMicro()
	if base <= s.lastUs {
		base = s.lastUs + 1
	}
	ts := make([]float64, n)
	for i := range ts {
		ts[i] = float64(base+int64(i)) / 1e6
	}
	s.lastUs = base + int64(n) - 1
	data := make(wamp.Dict, len(s.fields)+3)
	for _, f := range s.fields {
		v := make([]float64, n)
		for i := range v {
			v[i] = s.rng.Float64()
		}
		data[f] = v
	}
	if s.mix {
		ints, bools, strs := make([]int64, n), make([]bool, n), make([]string, n)
		for i := range n {
			s.seq++
			ints[i], bools[i] = s.seq, s.seq%2 == 0
			strs[i] = "auto"
			if bools[i] {
				strs[i] = "manual"
			}
		}
		data[MixIntField], data[MixBoolField], data[MixStringField] = ints, bools, strs
	}
	block := wamp.Dict{"block_name": BlockName, "data": data, "timestamps": ts}
	return wamp.Dict{BlockName: block}, s.lastUs
}
