package agents

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"strings"
	"time"
)

// Status is an OCS session status. A session moves only forward:
// starting → running → stopping → done (skipping is allowed).
type Status string

// The session statuses.
const (
	StatusStarting Status = "starting"
	StatusRunning  Status = "running"
	StatusStopping Status = "stopping"
	StatusDone     Status = "done"
)

func (s Status) rank() int {
	switch s {
	case StatusStarting:
		return 1
	case StatusRunning:
		return 2
	case StatusStopping:
		return 3
	case StatusDone:
		return 4
	}
	return 0
}

// OpCode is OCS's ocs.base.OpCode, carried by every encoded session and
// heartbeat.
type OpCode int

// The op codes.
const (
	OpCodeNone      OpCode = 1 // no session (heartbeat only)
	OpCodeStarting  OpCode = 2
	OpCodeRunning   OpCode = 3
	OpCodeStopping  OpCode = 4
	OpCodeSucceeded OpCode = 5
	OpCodeFailed    OpCode = 6
	OpCodeExpired   OpCode = 7 // never produced by an agent
	OpCodeDegraded  OpCode = 8
)

// Message log limits (OCS's OpSession purge policy).
const (
	maxMessages   = 10000
	minMessages   = 5
	messageMaxAge = 3600 * time.Second
	purgeInterval = 720 * time.Second // max(3600/5, 600)
)

// session is the state of one run of an op. Every field except the
// immutable ones (id, op, stopReq, finished, ctx, handle) is owned by the
// state machine's goroutine.
type session struct {
	id        int
	op        *op
	status    Status
	degraded  bool
	success   bool // meaningful when status is done
	startTime float64
	endTime   float64 // meaningful when status is done
	data      map[string]any
	messages  []any // entries []any{float64, string}; never mutated once appended
	stopAsked bool
	stopReq   chan struct{} // closed when a stop/abort was accepted
	finished  chan struct{} // closed when status becomes done
	ctx       context.Context
	cancel    context.CancelFunc
	handle    *Session
}

func (s *session) opCode() OpCode {
	switch s.status {
	case StatusStarting:
		return OpCodeStarting
	case StatusRunning:
		if s.degraded {
			return OpCodeDegraded
		}
		return OpCodeRunning
	case StatusStopping:
		return OpCodeStopping
	case StatusDone:
		if s.success {
			return OpCodeSucceeded
		}
		return OpCodeFailed
	}
	return OpCodeNone
}

// encode returns the session as OCS encodes it: exactly 11 keys. The result
// shares no mutable state with the session (data and message entries are
// immutable once stored), so it may be serialized on another goroutine.
func (s *session) encode() map[string]any {
	var success, endTime any
	if s.status == StatusDone {
		success = s.success
		endTime = s.endTime
	}
	msgs := make([]any, len(s.messages))
	copy(msgs, s.messages)
	data := s.data
	if data == nil {
		data = map[string]any{}
	}
	return map[string]any{
		"session_id": s.id,
		"op_name":    s.op.spec.Name,
		"op_code":    int(s.opCode()),
		"cred_level": 1,
		"status":     string(s.status),
		"degraded":   s.degraded,
		"success":    success,
		"start_time": s.startTime,
		"end_time":   endTime,
		"data":       data,
		"messages":   msgs,
	}
}

// purge drops the oldest messages while there are more than maxMessages, or
// more than minMessages and the oldest is older than messageMaxAge.
func (s *session) purge(now float64) {
	cutoff := now - messageMaxAge.Seconds()
	n := 0
	for len(s.messages)-n > maxMessages ||
		(len(s.messages)-n > minMessages && s.messages[n].([]any)[0].(float64) < cutoff) {
		n++
	}
	if n > 0 {
		s.messages = append([]any(nil), s.messages[n:]...)
	}
}

// Session is an op's handle on its current run, passed to [OpSpec.Run].
// Its methods are safe for concurrent use; they hand the change to the
// agent's state machine and return once it is applied. After the agent's
// Run has returned they do nothing.
type Session struct {
	m      *opsManager
	s      *session
	id     int
	opName string
	log    *slog.Logger
}

// ID returns the session_id (agent-wide counter, from 0).
func (h *Session) ID() int { return h.id }

// OpName returns the op's name.
func (h *Session) OpName() string { return h.opName }

// Stopping is closed when a client (or the agent's shutdown) asked a
// process to stop or an abortable task to abort. The status is already
// "stopping" then; the op should wind down and return.
func (h *Session) Stopping() <-chan struct{} { return h.s.stopReq }

// Context is cancelled when the agent gives up waiting for the op at
// shutdown (Config.StopTimeout after the stop request), or when the op has
// returned. Use it for I/O; use Stopping to notice a stop request.
func (h *Session) Context() context.Context { return h.s.ctx }

// Logger returns the agent's logger with op and session_id attributes.
func (h *Session) Logger() *slog.Logger { return h.log }

// SetData replaces the session's data. The map is converted to a JSON-safe
// deep copy first (NaN and ±Inf become null and are logged; other Go values
// become plain numbers, strings, lists and objects), so the caller may keep
// using d.
func (h *Session) SetData(d map[string]any) {
	safe := h.jsonSafeMap(d)
	h.m.do(func() { h.s.data = safe })
}

// MergeData sets the given top-level keys of the session's data, keeping
// the others, like Python's session.data.update(d).
func (h *Session) MergeData(d map[string]any) {
	safe := h.jsonSafeMap(d)
	h.m.do(func() {
		merged := make(map[string]any, len(h.s.data)+len(safe))
		for k, v := range h.s.data {
			merged[k] = v
		}
		for k, v := range safe {
			merged[k] = v
		}
		h.s.data = merged
	})
}

// AddMessage appends text to the session's message log (and logs it).
func (h *Session) AddMessage(text string) {
	h.m.do(func() { h.m.addMessage(h.s, text, h.m.nowFloat()) })
}

// SetDegraded sets the degraded flag (op_code 8 while running).
func (h *Session) SetDegraded(degraded bool) {
	h.m.do(func() { h.s.degraded = degraded })
}

// SetStatus moves the session to "running" or "stopping". Moving backwards
// is an error; setting the current status again does nothing; "done" is
// set by the agent when Run returns.
func (h *Session) SetStatus(st Status) error {
	if st != StatusRunning && st != StatusStopping {
		return fmt.Errorf("session %s:%d: status %q cannot be set by an op", h.opName, h.id, st)
	}
	var err error
	h.m.do(func() {
		if st.rank() < h.s.status.rank() {
			err = fmt.Errorf("session %s:%d: status cannot move from %q back to %q", h.opName, h.id, h.s.status, st)
			return
		}
		h.m.setStatus(h.s, st)
	})
	return err
}

// Status returns the session's current status.
func (h *Session) Status() Status {
	st := StatusDone
	h.m.do(func() { st = h.s.status })
	return st
}

func (h *Session) jsonSafeMap(d map[string]any) map[string]any {
	var c safeCounter
	out, _ := c.safe(d).(map[string]any)
	if out == nil {
		out = map[string]any{}
	}
	if c.inf > 0 {
		h.log.Warn("session data held ±Inf; stored as null", "count", c.inf)
	}
	if c.nan > 0 {
		h.log.Debug("session data held NaN; stored as null", "count", c.nan)
	}
	if c.other > 0 {
		h.log.Warn("session data held values that are not JSON; stored as strings", "count", c.other)
	}
	return out
}

// safeCounter converts values to the JSON-safe model and counts what it had
// to change.
type safeCounter struct{ nan, inf, other int }

// safe returns a deep copy of v made only of nil, bool, int64, uint64,
// finite float64, string, []any and map[string]any.
func (c *safeCounter) safe(v any) any {
	switch x := v.(type) {
	case nil, bool, int64, string:
		return x
	case float64:
		return c.float(x)
	case float32:
		return c.float(float64(x))
	case int:
		return int64(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = c.safe(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = c.safe(e)
		}
		return out
	case []byte:
		return string(x)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return c.float(f)
	case error:
		return x.Error()
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return nil
		}
		return c.safe(rv.Elem().Interface())
	case reflect.Bool:
		return rv.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return normUint(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return c.float(rv.Float())
	case reflect.String:
		return rv.String()
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return nil
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = c.safe(rv.Index(i).Interface())
		}
		return out
	case reflect.Map:
		if rv.IsNil() {
			return nil
		}
		out := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			out[fmt.Sprint(it.Key().Interface())] = c.safe(it.Value().Interface())
		}
		return out
	case reflect.Struct:
		if b, err := json.Marshal(v); err == nil {
			dec := json.NewDecoder(strings.NewReader(string(b)))
			dec.UseNumber()
			var generic any
			if dec.Decode(&generic) == nil {
				return c.safe(generic)
			}
		}
	}
	c.other++
	return fmt.Sprint(v)
}

func (c *safeCounter) float(f float64) any {
	switch {
	case math.IsNaN(f):
		c.nan++
		return nil
	case math.IsInf(f, 0):
		c.inf++
		return nil
	}
	return f
}
