package publisher

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"reflect"

	"github.com/ocsflux/ocsflux/feeds"
)

// Recordable reports whether the Python agent would write a feed's data:
// feed_info.record is true and agg_params.exclude_influx is not truthy in
// Python's sense (any true bool, non-zero number, non-empty string, list
// or object counts). Enqueue applies it itself; a caller may use it to skip
// decoding messages that would not be written.
func Recordable(info *feeds.Info) bool {
	if !info.Record {
		return false
	}
	v, ok := info.AggParams["exclude_influx"]
	return !ok || !truthy(v)
}

// truthy is Python's bool() for the values a decoded JSON or msgpack
// object can hold.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case float64:
		return x != 0 // NaN is truthy in Python too
	case int64:
		return x != 0
	case int:
		return x != 0
	case uint64:
		return x != 0
	case json.Number:
		f, err := x.Float64()
		return err != nil || f != 0
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return r.Int() != 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return r.Uint() != 0
	case reflect.Float32, reflect.Float64:
		return r.Float() != 0
	case reflect.String, reflect.Slice, reflect.Map, reflect.Array:
		return r.Len() > 0
	case reflect.Pointer, reflect.Interface:
		if r.IsNil() {
			return false
		}
		return truthy(r.Elem().Interface())
	}
	return true
}

// Filter selects, by glob patterns (path.Match syntax: * ? [...]), which
// agents and feeds a publisher writes, so that several publishers can
// share a site's agents. A message is written when its agent address
// matches one of Agents (or Agents is empty), matches none of
// ExcludeAgents, and "<agent address>.<feed name>" matches none of
// ExcludeFeeds.
type Filter struct {
	Agents, ExcludeAgents, ExcludeFeeds []string
}

// Validate reports patterns path.Match cannot use.
func (f Filter) Validate() error {
	var errs []error
	for _, list := range []struct {
		flag     string
		patterns []string
	}{{"agents", f.Agents}, {"exclude-agents", f.ExcludeAgents}, {"exclude-feeds", f.ExcludeFeeds}} {
		for _, p := range list.patterns {
			if _, err := path.Match(p, ""); err != nil {
				errs = append(errs, fmt.Errorf("%s pattern %q: %w", list.flag, p, err))
			}
		}
	}
	return errors.Join(errs...)
}

// empty reports whether f lets every message through.
func (f Filter) empty() bool {
	return len(f.Agents) == 0 && len(f.ExcludeAgents) == 0 && len(f.ExcludeFeeds) == 0
}

// Accept reports whether f lets a message of agent's feed through.
func (f Filter) Accept(agent, feed string) bool {
	if len(f.Agents) > 0 && !matchAny(f.Agents, agent) {
		return false
	}
	if matchAny(f.ExcludeAgents, agent) {
		return false
	}
	return len(f.ExcludeFeeds) == 0 || !matchAny(f.ExcludeFeeds, agent+"."+feed)
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok {
			return true
		}
	}
	return false
}
