package loadgen_test

import (
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/internal/loadgen"
)

func TestFieldName(t *testing.T) {
	for _, c := range []struct {
		i, n int
		want string
	}{
		{0, 10, "f00"}, {9, 10, "f09"}, {0, 1, "f00"}, {99, 100, "f99"}, {5, 101, "f005"}, {100, 101, "f100"},
	} {
		if got := loadgen.FieldName(c.i, c.n); got != c.want {
			t.Errorf("FieldName(%d, %d) = %q, want %q", c.i, c.n, got, c.want)
		}
	}
}

// TestFeedInfo: the seven keys of OCS's feed_info (spec §6.2), record true.
func TestFeedInfo(t *testing.T) {
	sid := loadgen.SessionID(time.Unix(1795294463, 556173300))
	fi := loadgen.FeedInfo("observatory.bench-x-0", "r1000_s1", sid)
	var keys []string
	for k := range fi {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"address", "agent_address", "agent_class", "agg_params", "feed_name", "record", "session_id"}
	if !slices.Equal(keys, want) {
		t.Errorf("feed_info keys %v, want %v", keys, want)
	}
	if fi["address"] != "observatory.bench-x-0.feeds.r1000_s1" || fi["agent_address"] != "observatory.bench-x-0" ||
		fi["feed_name"] != "r1000_s1" || fi["record"] != true || fi["agent_class"] != loadgen.AgentClass {
		t.Errorf("feed_info %v", fi)
	}
	if ap, ok := fi["agg_params"].(wamp.Dict); !ok || len(ap) != 0 {
		t.Errorf("agg_params %#v, want {}", fi["agg_params"])
	}
	if sid != "1795294463.5561733" {
		t.Errorf("SessionID = %q, want Python's str(time.time()) 1795294463.5561733", sid)
	}
	if got := loadgen.SessionID(time.Unix(1795294463, 0)); got != "1795294463.0" {
		t.Errorf("SessionID(integral) = %q, want 1795294463.0", got)
	}
	args := loadgen.EventArgs(wamp.Dict{"b": 1}, fi)
	if len(args) != 1 {
		t.Fatalf("event has %d arguments, want exactly 1 (the pair)", len(args))
	}
	if pair, ok := args[0].(wamp.List); !ok || len(pair) != 2 {
		t.Errorf("argument %#v, want the pair [message, feed_info]", args[0])
	}
}

func TestNames(t *testing.T) {
	if got := loadgen.AgentAddress("observatory", "ab12", 7); got != "observatory.bench-ab12-7" {
		t.Errorf("AgentAddress = %q", got)
	}
	if got := loadgen.StepFeed(20000, 3); got != "r20000_s3" {
		t.Errorf("StepFeed = %q", got)
	}
	// Feed names are OCS feed names: lowercase letters, digits, _.
	if !regexp.MustCompile(`^[a-z0-9_]+$`).MatchString(loadgen.StepFeed(50000, 12)) {
		t.Errorf("StepFeed is not a valid OCS feed name")
	}
}
