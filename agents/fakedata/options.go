package fakedata

import (
	"errors"
	"fmt"
	"math"

	"github.com/ocsflux/ocsflux/site"
)

// AgentClass is the OCS agent class this package implements.
const AgentClass = "FakeDataAgent"

// GroupAgent is the help section of the options.
const GroupAgent = "Agent Options (FakeDataAgent)"

// MinSampleRate is the lowest sample rate used; lower --sample-rate values
// are raised to it, as the Python agent does.
const MinSampleRate = 1e-6

// Options of the FakeDataAgent, with the Python agent's names, defaults and
// choices (§8.1). Start from Defaults(); the command line sets them through
// Flags.
type Options struct {
	Mode        string  // --mode: "idle", or "acq" to start acq and count at the first join
	NumChannels int     // --num-channels: number of channels (channel_00, channel_01, ...)
	SampleRate  float64 // --sample-rate: samples per second; see Rate
	FrameLength int     // --frame-length: seconds, copied into the feed's agg_params.frame_length
}

// Defaults returns the options with every default applied.
func Defaults() Options {
	var o Options
	if err := site.ApplyDefaults(o.Flags()); err != nil {
		panic("fakedata: bad default: " + err.Error()) // a bug in Flags, caught by its tests
	}
	return o
}

// Flags returns the definitions of the options, bound to o's fields.
func (o *Options) Flags() []site.Flag {
	return []site.Flag{
		{Name: "mode", Value: site.StringValue(&o.Mode), Default: "idle", Choices: []string{"idle", "acq"},
			Group: GroupAgent, Help: "Start acquiring at the first connection (acq) or wait for a client (idle)."},
		{Name: "num-channels", Value: site.IntValue(&o.NumChannels, 0, math.MaxInt32), Default: "2",
			Group: GroupAgent, Placeholder: "N", Help: "Number of fake readout channels; channels are co-sampled."},
		{Name: "sample-rate", Value: site.FloatValue(&o.SampleRate), Default: "9.5",
			Group: GroupAgent, Placeholder: "HZ", Help: "Samples per second (at least 1e-6)."},
		{Name: "frame-length", Value: site.IntValue(&o.FrameLength, 0, math.MaxInt32), Default: "60",
			Group: GroupAgent, Placeholder: "SECONDS", Help: "Frame length passed to the aggregator in the feed's agg_params."},
	}
}

// Rate returns the sample rate in use: SampleRate, raised to MinSampleRate.
func (o Options) Rate() float64 {
	return math.Max(MinSampleRate, o.SampleRate)
}

// Validate checks the options; each problem names its flag.
func (o Options) Validate() error {
	var errs []error
	if o.Mode != "idle" && o.Mode != "acq" {
		errs = append(errs, fmt.Errorf("--mode: must be idle or acq, got %q", o.Mode))
	}
	if o.NumChannels < 0 {
		errs = append(errs, fmt.Errorf("--num-channels: must not be negative, got %d", o.NumChannels))
	}
	if math.IsNaN(o.SampleRate) || math.IsInf(o.SampleRate, 0) {
		errs = append(errs, fmt.Errorf("--sample-rate: must be a finite number, got %v", o.SampleRate))
	}
	if o.FrameLength < 0 {
		errs = append(errs, fmt.Errorf("--frame-length: must not be negative, got %d", o.FrameLength))
	}
	return errors.Join(errs...)
}
