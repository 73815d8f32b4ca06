package feeds

import (
	"strconv"
	"strings"
)

// Scope says what a Problem made the decoder drop.
type Scope uint8

// The things a decoder drops. Count in a Problem counts these.
const (
	// ScopeMessage: the whole message (no blocks could be read).
	ScopeMessage Scope = iota + 1
	// ScopeBlock: one block.
	ScopeBlock
	// ScopeField: one field of a block (all its values).
	ScopeField
	// ScopeSample: samples (timestamps, i.e. would-be points) of a block.
	ScopeSample
	// ScopeValue: single values of one field; they are left as absent
	// values (KindInvalid) in the field, or, for values beyond the
	// timestamps, ignored.
	ScopeValue
)

// String returns "message", "block", "field", "sample" or "value".
func (s Scope) String() string {
	switch s {
	case ScopeMessage:
		return "message"
	case ScopeBlock:
		return "block"
	case ScopeField:
		return "field"
	case ScopeSample:
		return "sample"
	case ScopeValue:
		return "value"
	}
	return "scope(" + strconv.Itoa(int(s)) + ")"
}

// MarshalText encodes the scope as its String, for JSON and logs.
func (s Scope) MarshalText() ([]byte, error) {
	return []byte(s.String()), nil
}

// Problem is one thing a decoder rejected in a recorded feed message, named
// by agent, feed, block and field. Problems of the same kind in the same
// field (or block) are merged: Count says how many things of Scope were
// dropped and Index where the first of them was.
type Problem struct {
	Agent  string `json:"agent"`           // feed_info agent_address
	Feed   string `json:"feed"`            // feed_info feed_name
	Block  string `json:"block,omitempty"` // block key; "" for the message
	Field  string `json:"field,omitempty"` // field name; "" unless about one field
	Scope  Scope  `json:"scope"`           // what was dropped
	Index  int    `json:"index"`           // first sample index concerned, -1 if none
	Count  int    `json:"count"`           // how many of Scope were dropped
	Points int    `json:"points"`          // samples (would-be InfluxDB points) lost entirely, where known
	Reason string `json:"reason"`          // why, e.g. "value is null"
	Value  string `json:"value,omitempty"` // the first offending value, abbreviated
}

// String returns a one-line description for logs, e.g.
// `agent observatory.x feed temps block b field f: 2 values dropped (first at sample 3): value is null (first: null)`.
func (p Problem) String() string {
	var sb strings.Builder
	sb.WriteString("agent ")
	sb.WriteString(p.Agent)
	sb.WriteString(" feed ")
	sb.WriteString(p.Feed)
	if p.Block != "" || p.Scope == ScopeBlock {
		sb.WriteString(" block ")
		sb.WriteString(strconv.Quote(p.Block))
	}
	if p.Field != "" || p.Scope == ScopeField {
		sb.WriteString(" field ")
		sb.WriteString(strconv.Quote(p.Field))
	}
	sb.WriteString(": ")
	sb.WriteString(strconv.Itoa(p.Count))
	sb.WriteByte(' ')
	sb.WriteString(p.Scope.String())
	if p.Count != 1 {
		sb.WriteByte('s')
	}
	sb.WriteString(" dropped")
	if p.Index >= 0 {
		sb.WriteString(" (first at sample ")
		sb.WriteString(strconv.Itoa(p.Index))
		sb.WriteByte(')')
	}
	sb.WriteString(": ")
	sb.WriteString(p.Reason)
	if p.Value != "" {
		sb.WriteString(" (first: ")
		sb.WriteString(p.Value)
		sb.WriteByte(')')
	}
	return sb.String()
}

// Dropped sums the Count of the problems with the given scope, e.g.
// Dropped(problems, ScopeValue) is the number of values left out.
func Dropped(problems []Problem, scope Scope) int {
	n := 0
	for _, p := range problems {
		if p.Scope == scope {
			n += p.Count
		}
	}
	return n
}

// PointsLost sums Points: the samples that will not become InfluxDB points
// because of these problems (a dropped message counts 0: its size is unknown).
func PointsLost(problems []Problem) int {
	n := 0
	for _, p := range problems {
		n += p.Points
	}
	return n
}
