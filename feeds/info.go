package feeds

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"

	"github.com/gammazero/nexus/v3/wamp"
)

// ErrBadEvent is wrapped by every error DecodeEvent and DecodeEventJSON
// return: the event's shape or its feed_info is wrong, so nothing in it can
// be used or attributed. Problems inside a recorded message are not errors;
// they are reported as []Problem.
var ErrBadEvent = errors.New("bad feed event")

// FeedAddress returns a feed's topic, <agent_address>.feeds.<feed_name>
// (ocs-protocol.md §6.1), which is also feed_info's "address".
func FeedAddress(agentAddress, feedName string) string {
	return agentAddress + ".feeds." + feedName
}

// Recordable reports whether the InfluxDB publisher writes this feed: record
// is true and agg_params.exclude_influx is not truthy in Python's sense
// (ocs-protocol.md §6.6, §7.4; checklist 35).
func (i Info) Recordable() bool {
	return i.Record && !Truthy(i.AggParams["exclude_influx"])
}

// Truthy reports Python's truth value of a decoded WAMP value: null, false,
// zero numbers and empty strings, binaries, lists and objects are false;
// everything else (NaN included, as in Python) is true.
func Truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0 || math.IsNaN(x)
	case float32:
		return x != 0 || x != x
	case int64:
		return x != 0
	case uint64:
		return x != 0
	case int:
		return x != 0
	case int8:
		return x != 0
	case int16:
		return x != 0
	case int32:
		return x != 0
	case uint:
		return x != 0
	case uint8:
		return x != 0
	case uint16:
		return x != 0
	case uint32:
		return x != 0
	case json.Number:
		n, ok := parseNumber(string(x))
		return !ok || Truthy(n)
	case *big.Int:
		return x.Sign() != 0
	case string:
		return x != ""
	case []byte:
		return len(x) != 0
	case []any:
		return len(x) != 0
	case wamp.List:
		return len(x) != 0
	case map[string]any:
		return len(x) != 0
	case wamp.Dict:
		return len(x) != 0
	case *object:
		return len(x.members) != 0
	}
	return true
}

// decodeInfo reads and type-checks a feed_info object. agent_address,
// feed_name, record and agg_params are required: they are what the Python
// publisher uses. address, session_id and agent_class may be absent
// (agent_class only exists since OCS v0.9.3, 2022; the Python publisher
// writes such agents' data), but must have their types when present. Other
// keys are ignored.
func decodeInfo(v any) (Info, error) {
	if !isObject(v) {
		return Info{}, fmt.Errorf("%w: feed_info is %s, want an object", ErrBadEvent, typeName(v))
	}
	var info Info
	// feed_info's keys in Python's order (ocs-protocol.md §6.2).
	keys := [...]string{"agent_address", "agg_params", "feed_name", "address", "record", "session_id", "agent_class"}
	for _, key := range keys {
		raw, ok := lookup(v, key)
		if !ok {
			switch key {
			case "address", "session_id", "agent_class":
				continue // absent from older OCS releases; unused for recording
			}
			return Info{}, infoError(v, "has no %q", key)
		}
		var good bool
		switch key {
		case "agent_address":
			info.AgentAddress, good = raw.(string)
		case "feed_name":
			info.FeedName, good = raw.(string)
		case "address":
			info.Address, good = raw.(string)
		case "session_id":
			info.SessionID, good = raw.(string)
		case "record":
			info.Record, good = raw.(bool)
		case "agent_class":
			if raw == nil {
				good = true
			} else if s, ok := raw.(string); ok {
				info.AgentClass, good = &s, true
			}
		case "agg_params":
			if isObject(raw) {
				info.AggParams, good = plainParams(raw), true
			}
		}
		if !good {
			return Info{}, infoError(v, "%q is %s, want %s", key, typeName(raw), infoWant(key))
		}
	}
	return info, nil
}

func infoWant(key string) string {
	switch key {
	case "record":
		return "a bool"
	case "agent_class":
		return "a string or null"
	case "agg_params":
		return "an object"
	}
	return "a string"
}

// infoError reports a bad feed_info, naming its agent and feed as far as
// they can be read.
func infoError(v any, format string, args ...any) error {
	agent, _ := lookupString(v, "agent_address")
	feed, _ := lookupString(v, "feed_name")
	return fmt.Errorf("%w: feed_info (agent %q, feed %q) %s", ErrBadEvent,
		agent, feed, fmt.Sprintf(format, args...))
}

func lookupString(v any, key string) (string, bool) {
	raw, ok := lookup(v, key)
	if !ok {
		return "", false
	}
	s, ok := raw.(string)
	return s, ok
}

// plainParams returns agg_params as a plain map[string]any whose numbers are
// int64 (uint64 above MaxInt64, *big.Int beyond) or float64, whatever the
// serializer delivered, so that equal content gives equal Info. An empty
// object gives nil. A map that is already plain is returned as is.
func plainParams(v any) map[string]any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			return nil
		}
		if isPlain(x) {
			return x
		}
	case wamp.Dict:
		if len(x) == 0 {
			return nil
		}
	case *object:
		if len(x.members) == 0 {
			return nil
		}
	}
	m, _ := plain(v).(map[string]any)
	return m
}

// isPlain reports whether v needs no conversion by plain.
func isPlain(v any) bool {
	switch x := v.(type) {
	case nil, bool, string, int64, float64, []byte, *big.Int:
		return true
	case uint64:
		return x > math.MaxInt64
	case []any:
		for _, e := range x {
			if !isPlain(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range x {
			if !isPlain(e) {
				return false
			}
		}
		return true
	}
	return false
}

// plain converts a decoded value into the plain tree ParseJSON documents.
// Unknown types are returned unchanged.
func plain(v any) any {
	switch x := v.(type) {
	case *object:
		m := make(map[string]any, len(x.members))
		for _, e := range x.members {
			m[e.key] = plain(e.val)
		}
		return m
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = plain(e)
		}
		return m
	case wamp.Dict:
		return plain(map[string]any(x))
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = plain(e)
		}
		return l
	case wamp.List:
		return plain([]any(x))
	case json.Number:
		if n, ok := parseNumber(string(x)); ok {
			return n
		}
		return string(x)
	}
	if i, ok := intValue(v); ok {
		return i
	}
	if x, ok := v.(uint64); ok {
		return x // above MaxInt64, or intValue would have taken it
	}
	if x, ok := v.(float32); ok {
		return float64(x)
	}
	return v
}

// intValue returns v as an int64 when it is an integer of any Go type that
// fits int64.
func intValue(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint:
		if uint64(x) <= math.MaxInt64 {
			return int64(x), true
		}
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	}
	return 0, false
}
