package publisher

import (
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
)

// Reason says why a point, or one field value of a point, was not written.
// Point reasons count whole samples; field reasons count single values left
// out of a point that was otherwise written.
type Reason string

// Point reasons: the whole sample is not written.
const (
	// ReasonTimestamp: the sample time is NaN or ±Inf, or int64(t*1e9) is
	// outside InfluxDB's range [-9223372036854775806, 9223372036854775806]
	// (Python prints "Cannot convert ... Dropping this data point." or
	// crashes).
	ReasonTimestamp Reason = "bad timestamp"
	// ReasonMeasurement: the agent_address cannot be written as a
	// measurement (empty, non-printable characters, see validName).
	ReasonMeasurement Reason = "bad measurement"
	// ReasonFeedName: the feed_name cannot be written as a tag value.
	ReasonFeedName Reason = "bad feed name"
	// ReasonNoFields: every field value of the sample was dropped.
	ReasonNoFields Reason = "no fields"
	// ReasonQueueFull: the pending data reached Config.MaxPendingBytes.
	ReasonQueueFull Reason = "queue full"
	// ReasonStopped: the point was still unwritten when Run returned, or was
	// enqueued after that.
	ReasonStopped Reason = "not written at stop"
	// ReasonTooLarge: InfluxDB answered 413 to a request holding only this
	// point.
	ReasonTooLarge Reason = "request too large"
	// ReasonTypeConflict: InfluxDB refused the point because a field has
	// another type than the one already stored ("field type conflict").
	ReasonTypeConflict Reason = "field type conflict"
	// ReasonUnparsable: InfluxDB could not parse the line ("unable to
	// parse"); never expected from this encoder.
	ReasonUnparsable Reason = "unable to parse"
	// ReasonServerDropped: InfluxDB dropped points for another reason it
	// reported in a "partial write" (points beyond the retention policy,
	// max-values-per-tag, ...).
	ReasonServerDropped Reason = "dropped by server"
	// ReasonRefused: the server answered a request holding only this
	// point with a 4xx it gave no known meaning (ActionRefused).
	ReasonRefused Reason = "refused by server"
)

// Field reasons: one value is left out, the rest of the point is written.
const (
	// ReasonNonFinite: NaN, +Inf or -Inf (InfluxDB has no such floats).
	ReasonNonFinite Reason = "non-finite float"
	// ReasonTimeField: the field key is "time", which InfluxDB refuses.
	ReasonTimeField Reason = "field key time"
	// ReasonFieldKey: the field key cannot be written (see validName) or
	// makes the series key longer than InfluxDB's 65535 bytes.
	ReasonFieldKey Reason = "bad field key"
	// ReasonLongString: a string value longer than MaxStringLen.
	ReasonLongString Reason = "string too long"
	// ReasonShortData: the field's data array is shorter than timestamps.
	ReasonShortData Reason = "short data array"
)

// MaxStringLen is the longest string field value written (64 KiB, InfluxDB's
// documented limit).
const MaxStringLen = 64 << 10

// Reject describes values that were not written, with the names a user
// needs to find them. Field is empty for point reasons; Agent and Feed may
// be empty when the server did not say (a field type conflict names the
// measurement and field only).
type Reject struct {
	Reason Reason
	Agent  string // measurement (agent_address)
	Feed   string // feed_name
	Field  string
	Count  uint64
}

// isPointReason reports whether r counts whole points.
func isPointReason(r Reason) bool {
	switch r {
	case ReasonNonFinite, ReasonTimeField, ReasonFieldKey, ReasonLongString, ReasonShortData:
		return false
	}
	return true
}

// rejectKey groups rejections for the periodic log line.
type rejectKey struct {
	Reason             Reason
	Agent, Feed, Field string
}

// rejectLog aggregates rejections between two log lines so a steady stream
// of bad values produces one line per interval, with names and counts.
// It is guarded by the publisher's mutex.
type rejectLog struct {
	pending map[rejectKey]uint64
}

// maxRejectKeys bounds the distinct agent/feed/field names kept for one
// log line; beyond it a rejection is counted under otherNames.
const maxRejectKeys = 1000

// otherNames stands for the names of rejections beyond maxRejectKeys.
const otherNames = "(other agents)"

func (l *rejectLog) add(r Reject) {
	if l.pending == nil {
		l.pending = make(map[rejectKey]uint64)
	}
	k := rejectKey{r.Reason, r.Agent, r.Feed, r.Field}
	if _, ok := l.pending[k]; !ok && len(l.pending) >= maxRejectKeys {
		k = rejectKey{Reason: r.Reason, Agent: otherNames}
	}
	l.pending[k] += r.Count
}

// take returns the aggregated rejections, sorted, and starts a new interval.
func (l *rejectLog) take() []Reject {
	if len(l.pending) == 0 {
		return nil
	}
	out := make([]Reject, 0, len(l.pending))
	for k, n := range l.pending {
		out = append(out, Reject{Reason: k.Reason, Agent: k.Agent, Feed: k.Feed, Field: k.Field, Count: n})
	}
	clear(l.pending)
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Reason != b.Reason {
			return a.Reason < b.Reason
		}
		if a.Agent != b.Agent {
			return a.Agent < b.Agent
		}
		if a.Feed != b.Feed {
			return a.Feed < b.Feed
		}
		return a.Field < b.Field
	})
	return out
}

// maxLoggedNames bounds the agent/feed/field names in one log line, and
// maxLoggedName the length of each name.
const (
	maxLoggedNames = 20
	maxLoggedName  = 200
)

// logRejects writes one warning per reason with the agents/feeds/fields it
// hit (at most maxLoggedNames, each at most maxLoggedName bytes) and the
// counts.
func logRejects(log *slog.Logger, rs []Reject) {
	for i := 0; i < len(rs); {
		j := i
		var total uint64
		var where []string
		for ; j < len(rs) && rs[j].Reason == rs[i].Reason; j++ {
			total += rs[j].Count
			if len(where) < maxLoggedNames {
				where = append(where, rejectName(rs[j]))
			}
		}
		if n := j - i - len(where); n > 0 {
			where = append(where, fmt.Sprintf("and %d more", n))
		}
		unit := "field values"
		if isPointReason(rs[i].Reason) {
			unit = "points"
		}
		log.Warn("data not written to InfluxDB",
			"reason", string(rs[i].Reason), "unit", unit, "count", total,
			"where", strings.Join(where, "; "))
		i = j
	}
}

// ShortName is s, or its first maxLoggedName (200) bytes and its length,
// for names shown in logs and the session data.
func ShortName(s string) string {
	if len(s) <= maxLoggedName {
		return s
	}
	return fmt.Sprintf("%s...(%d bytes)", strings.ToValidUTF8(s[:maxLoggedName], ""), len(s))
}

// rejectName renders agent/feed/field=count, leaving out unknown parts.
func rejectName(r Reject) string {
	var b strings.Builder
	b.WriteString("agent=")
	b.WriteString(ShortName(r.Agent))
	if r.Feed != "" {
		b.WriteString(" feed=")
		b.WriteString(ShortName(r.Feed))
	}
	if r.Field != "" {
		b.WriteString(" field=")
		b.WriteString(ShortName(r.Field))
	}
	b.WriteString(" count=")
	b.WriteString(strconv.FormatUint(r.Count, 10))
	return b.String()
}
