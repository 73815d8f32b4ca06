package loadgen_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/internal/loadgen"
)

func TestDefaultsValid(t *testing.T) {
	c := loadgen.Defaults()
	if err := c.Validate(); err != nil {
		t.Fatalf("Defaults().Validate() = %v", err)
	}
	if c.Agents != 8 || c.Samples != 10 || c.Fields != 10 || c.StepDuration != 10*time.Second ||
		c.Settle != 10*time.Second || c.Poll != 20*time.Millisecond || len(c.Rates) != 4 ||
		c.Rates[0] != 1000 || c.Rates[3] != 50000 || c.RouterURL != "ws://127.0.0.1:8001/ws" ||
		c.InfluxURL != "http://127.0.0.1:8086" || c.Database != "ocs_feeds" || c.Realm != "test_realm" ||
		c.AddressRoot != "observatory" {
		t.Errorf("Defaults() = %+v", c)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*loadgen.Config)
		want string // substring of the error
	}{
		{"agents 0", func(c *loadgen.Config) { c.Agents = 0 }, "--agents 0"},
		{"agents too many", func(c *loadgen.Config) { c.Agents = 1001 }, "--agents 1001"},
		{"samples 0", func(c *loadgen.Config) { c.Samples = 0 }, "--samples 0"},
		{"fields 0", func(c *loadgen.Config) { c.Fields = 0 }, "--fields 0"},
		{"no rates", func(c *loadgen.Config) { c.Rates = nil }, "--rates: give at least one"},
		{"rate 0", func(c *loadgen.Config) { c.Rates = []int64{1000, 0} }, "--rates 0: rates must be positive"},
		{"rate negative", func(c *loadgen.Config) { c.Rates = []int64{-5} }, "--rates -5"},
		{"no message due", func(c *loadgen.Config) { c.Rates = []int64{5}; c.StepDuration = time.Second },
			"--rates 5: with --samples 10 not one message is due in --step-duration 1s"},
		{"step 0", func(c *loadgen.Config) { c.StepDuration = 0 }, "--step-duration 0s"},
		{"settle negative", func(c *loadgen.Config) { c.Settle = -time.Second }, "--settle -1s"},
		{"poll tiny", func(c *loadgen.Config) { c.Poll = time.Microsecond }, "--poll 1µs"},
		{"warmup 0", func(c *loadgen.Config) { c.Warmup = 0 }, "--warmup 0s"},
		{"pid negative", func(c *loadgen.Config) { c.PublisherPID = -1 }, "--publisher-pid -1"},
		{"router http", func(c *loadgen.Config) { c.RouterURL = "http://x:1/ws" }, "--router"},
		{"influx ws", func(c *loadgen.Config) { c.InfluxURL = "ws://x:1" }, "--influx-url"},
		{"influx no host", func(c *loadgen.Config) { c.InfluxURL = "http://" }, "--influx-url"},
		{"root bad", func(c *loadgen.Config) { c.AddressRoot = "a b" }, "--address-root"},
		{"root empty", func(c *loadgen.Config) { c.AddressRoot = "" }, "--address-root"},
		{"realm empty", func(c *loadgen.Config) { c.Realm = "" }, "--realm"},
		{"database empty", func(c *loadgen.Config) { c.Database = "" }, "--database"},
		{"run id", func(c *loadgen.Config) { c.RunID = "Bad-Id" }, "run id"},
	} {
		cfg := loadgen.Defaults()
		c.edit(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Validate() = %v, want an error containing %q", c.name, err, c.want)
		}
		if _, err := loadgen.New(cfg); err == nil {
			t.Errorf("%s: New accepted the config", c.name)
		}
	}
	// Every problem is reported at once.
	cfg := loadgen.Defaults()
	cfg.Agents, cfg.Samples = 0, 0
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "--agents") || !strings.Contains(err.Error(), "--samples") {
		t.Errorf("two problems: %v", err)
	}
}

func TestNewRunID(t *testing.T) {
	a, err := loadgen.New(loadgen.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := loadgen.New(loadgen.Defaults())
	if len(a.RunID()) != 8 || a.RunID() == b.RunID() {
		t.Errorf("run ids %q, %q: want 8 hex digits, different", a.RunID(), b.RunID())
	}
	cfg := loadgen.Defaults()
	cfg.RunID = "abc123"
	c, _ := loadgen.New(cfg)
	if c.RunID() != "abc123" {
		t.Errorf("RunID() = %q, want the configured abc123", c.RunID())
	}
}
