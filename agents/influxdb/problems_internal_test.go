package influxdb

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/feeds"
)

// TestProblemLogBoundsNames: a dropped field with a 1 MiB name is logged
// once, its name cut to 200 bytes with its length (it used to be printed
// about four times in full in one line: 11 MB of names made 44 MB of log).
func TestProblemLogBoundsNames(t *testing.T) {
	long := strings.Repeat("n", 1<<20)
	var l problemLog
	for range 3 {
		l.addProblem(feeds.Problem{Agent: "obs.a", Feed: "f", Block: "b", Field: long, Scope: feeds.ScopeField,
			Reason: "value is null", Count: 1})
	}
	l.addBadEvent("obs.a.feeds."+long, errTest)
	var out bytes.Buffer
	l.flush(slog.New(slog.NewTextHandler(&out, nil)), time.Now(), true)
	if out.Len() > 4<<10 {
		t.Errorf("%d bytes of log for two problems, want a few hundred", out.Len())
	}
	if !strings.Contains(out.String(), "...(1048576 bytes)") || !strings.Contains(out.String(), "count=3") {
		t.Errorf("log does not name the field by its start and length, or does not count it:\n%.2000s", out.String())
	}
	for k := range l.entries {
		t.Errorf("entries left after flush: %+v", k)
	}
}

var errTest = &testError{}

type testError struct{}

func (*testError) Error() string { return "cannot decode " + strings.Repeat("e", 1<<20) }
