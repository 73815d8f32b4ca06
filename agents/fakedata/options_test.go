package fakedata_test

import (
	"math"
	"strings"
	"testing"

	"github.com/ocsflux/ocsflux/agents/fakedata"
)

func TestDefaultsMatchPythonAgent(t *testing.T) {
	o := fakedata.Defaults()
	want := fakedata.Options{Mode: "idle", NumChannels: 2, SampleRate: 9.5, FrameLength: 60}
	if o != want {
		t.Errorf("Defaults() = %+v, want %+v", o, want)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestFlagTable(t *testing.T) {
	var o fakedata.Options
	want := map[string]string{
		"mode":         "idle|idle,acq|string",
		"num-channels": "2||int",
		"sample-rate":  "9.5||float",
		"frame-length": "60||int",
	}
	flags := o.Flags()
	if len(flags) != len(want) {
		t.Errorf("%d flags, want %d", len(flags), len(want))
	}
	for _, f := range flags {
		got := f.Default + "|" + strings.Join(f.Choices, ",") + "|" + string(f.Kind())
		if got != want[f.Name] {
			t.Errorf("--%s: %s, want %s", f.Name, got, want[f.Name])
		}
		if f.Group != fakedata.GroupAgent || f.Help == "" {
			t.Errorf("--%s: group %q help %q", f.Name, f.Group, f.Help)
		}
	}
}

func TestFlagsAcceptPythonSyntax(t *testing.T) {
	o := fakedata.Defaults()
	for name, v := range map[string]string{"mode": "acq", "num-channels": " 1_6 ", "sample-rate": "5", "frame-length": "+10"} {
		if err := set(&o, name, v); err != nil {
			t.Errorf("--%s %q: %v", name, v, err)
		}
	}
	if want := (fakedata.Options{Mode: "acq", NumChannels: 16, SampleRate: 5, FrameLength: 10}); o != want {
		t.Errorf("got %+v, want %+v", o, want)
	}
	for _, bad := range [][2]string{{"num-channels", "2.5"}, {"num-channels", "-1"}, {"sample-rate", "fast"},
		{"sample-rate", "0x10"}, {"frame-length", "0x10"}} {
		if err := set(&o, bad[0], bad[1]); err == nil {
			t.Errorf("--%s %q accepted", bad[0], bad[1])
		}
	}
}

func set(o *fakedata.Options, name, v string) error {
	for _, f := range o.Flags() {
		if f.Name == name {
			return f.Value.Set(v)
		}
	}
	return nil
}

func TestRateIsClamped(t *testing.T) {
	for in, want := range map[float64]float64{9.5: 9.5, 0: fakedata.MinSampleRate, -3: fakedata.MinSampleRate, 1e-7: fakedata.MinSampleRate} {
		if got := (fakedata.Options{SampleRate: in}).Rate(); got != want {
			t.Errorf("Rate(%v) = %v, want %v", in, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		o    fakedata.Options
		want string
	}{
		{fakedata.Options{Mode: "run"}, `--mode: must be idle or acq, got "run"`},
		{fakedata.Options{Mode: "idle", NumChannels: -1}, "--num-channels: must not be negative"},
		{fakedata.Options{Mode: "idle", SampleRate: math.NaN()}, "--sample-rate: must be a finite number"},
		{fakedata.Options{Mode: "idle", SampleRate: math.Inf(1)}, "--sample-rate: must be a finite number"},
		{fakedata.Options{Mode: "idle", FrameLength: -1}, "--frame-length: must not be negative"},
	} {
		if err := tt.o.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: got %v, want %q", tt.o, err, tt.want)
		}
	}
}
