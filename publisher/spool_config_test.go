package publisher_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/publisher"
)

// TestSpoolConfigDefaults: the spool, retry and stop defaults of the
// issue: 1 GiB, 7 days, fsync every batch, 4 MiB/s of replay, a spool log
// line a minute, retries from 100 ms to 30 s, 10 s to flush at stop.
func TestSpoolConfigDefaults(t *testing.T) {
	d := publisher.DefaultConfig()
	if d.SpoolDir != "" || d.SpoolMaxBytes != 1<<30 || d.SpoolMaxAge != 7*24*time.Hour ||
		d.SpoolSync != publisher.SpoolSyncEveryBatch || d.ReplayBytesPerSecond != 4<<20 ||
		d.SpoolLogInterval != time.Minute || d.DeadLetterFile != "" || d.DeadLetterMaxBytes != 64<<20 ||
		d.RetryMin != 100*time.Millisecond || d.RetryMax != 30*time.Second || d.StopTimeout != 10*time.Second ||
		d.MaxPendingBytes != 64<<20 {
		t.Errorf("defaults %+v", d)
	}
}

// TestSpoolConfigValidate: spool settings are checked when there is a
// spool, and only then.
func TestSpoolConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name    string
		mod     func(*publisher.Config)
		wantErr string
	}{
		{"spool", func(c *publisher.Config) { c.SpoolDir = "/tmp/x" }, ""},
		{"small spool without a spool", func(c *publisher.Config) { c.SpoolMaxBytes = 1 }, ""},
		{"spool smaller than a batch", func(c *publisher.Config) { c.SpoolDir = "x"; c.SpoolMaxBytes = 4 << 20 }, "spool max bytes"},
		{"negative max age", func(c *publisher.Config) { c.SpoolDir = "x"; c.SpoolMaxAge = -time.Hour }, "spool max age"},
		{"negative replay rate", func(c *publisher.Config) { c.SpoolDir = "x"; c.ReplayBytesPerSecond = -1 }, "replay bytes per second"},
		{"dead letter size", func(c *publisher.Config) { c.DeadLetterFile = "d"; c.DeadLetterMaxBytes = -1 }, "dead letter max bytes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := publisher.DefaultConfig()
			c.mod(&cfg)
			err := cfg.Validate()
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("Validate() = %v, want %q", err, c.wantErr)
			}
		})
	}
}
