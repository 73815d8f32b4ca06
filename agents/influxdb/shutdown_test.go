package influxdb_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/internal/influxtest"
)

// TestShutdownFlushes: cancelling Run (what SIGINT/SIGTERM do) stops
// record with a final flush: data received but not yet written is written
// before Run returns, quickly (checklist 46, 58).
func TestShutdownFlushes(t *testing.T) {
	t.Parallel()
	srv := influxtest.Start(t)
	r := startRouter(t)
	src := startSource(t, r)
	const db = "shutdown"
	opts := testOptions(srv.URL, db, "record")
	opts.FlushInterval = time.Minute // nothing is written before the stop
	ia := startInflux(t, r, opts, "", nil)
	waitSubscribed(t, ia, src)
	waitFor(t, 5*time.Second, "connected to InfluxDB", func() bool { return len(ia.logs.lines("recording feeds to InfluxDB")) > 0 })

	received := ia.Received()
	want := samples(1, 5)
	src.publish(t, want...)
	waitFor(t, 5*time.Second, "events received", func() bool { return ia.Received() >= received+5 })
	q := fmt.Sprintf(`SELECT count("seq") FROM %q`, srcAddr)
	if rows := queryRows(t, srv, db, q); len(rows) != 0 {
		t.Fatalf("written before the shutdown: %v", rows)
	}

	start := time.Now()
	if err := ia.shutdown(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("shutdown took %v", el)
	}
	checkValues(t, srv, db, want)
	if len(ia.logs.lines("everything received was written")) != 1 {
		t.Errorf("final flush not logged; log:\n%s", ia.logs)
	}
}
