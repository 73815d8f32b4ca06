package agents

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"
)

// This file holds the WAMP side of <address>.ops: binding the call's
// arguments the way Python binds them to
// _ops_handler(self, action, op_name, params=None, timeout=None, password=None),
// and the wait action, which blocks its handler (never the state machine).

// errRuntime is the error URI of an uncaught Python exception in a callee.
const errRuntime = wamp.URI("wamp.error.runtime_error")

var opsArgNames = []string{"action", "op_name", "params", "timeout", "password"}

// pyCallError is a TypeError of a Python call with bad arguments.
type pyCallError struct{ msg string }

func (e *pyCallError) Error() string { return e.msg }

// bindArgs binds positional and keyword arguments to the parameter names of
// a Python function fn whose first required parameters are mandatory, with
// Python's TypeError texts (self counted in the positional totals). With
// extraKw, unknown keywords are accepted (a **kwargs parameter).
func bindArgs(fn string, names []string, required int, args []any, kwargs map[string]any, extraKw bool) ([]any, error) {
	if len(args) > len(names) {
		if required == len(names) {
			return nil, &pyCallError{fmt.Sprintf("%s() takes %d positional arguments but %d were given", fn, len(names)+1, len(args)+1)}
		}
		return nil, &pyCallError{fmt.Sprintf("%s() takes from %d to %d positional arguments but %d were given", fn, required+1, len(names)+1, len(args)+1)}
	}
	vals := make([]any, len(names))
	set := make([]bool, len(names))
	for i, v := range args {
		vals[i], set[i] = v, true
	}
	index := make(map[string]int, len(names))
	for i, n := range names {
		index[n] = i
	}
	for k, v := range kwargs {
		i, ok := index[k]
		switch {
		case !ok && extraKw:
			continue
		case !ok:
			return nil, &pyCallError{fmt.Sprintf("%s() got an unexpected keyword argument '%s'", fn, k)}
		case set[i]:
			return nil, &pyCallError{fmt.Sprintf("%s() got multiple values for argument '%s'", fn, k)}
		}
		vals[i], set[i] = v, true
	}
	var missing []string
	for i := 0; i < required; i++ {
		if !set[i] {
			missing = append(missing, "'"+names[i]+"'")
		}
	}
	switch len(missing) {
	case 0:
		return vals, nil
	case 1:
		return nil, &pyCallError{fmt.Sprintf("%s() missing 1 required positional argument: %s", fn, missing[0])}
	default:
		list := strings.Join(missing[:len(missing)-1], ", ") + " and " + missing[len(missing)-1]
		if len(missing) > 2 {
			list = strings.Join(missing[:len(missing)-1], ", ") + ", and " + missing[len(missing)-1]
		}
		return nil, &pyCallError{fmt.Sprintf("%s() missing %d required positional arguments: %s", fn, len(missing), list)}
	}
}

func runtimeError(err error) client.InvokeResult {
	return client.InvokeResult{Err: errRuntime, Args: wamp.List{err.Error()}}
}

func okResult(v any) client.InvokeResult {
	return client.InvokeResult{Args: wamp.List{v}}
}

// opNameArg turns the op_name argument into the name used in lookups and
// texts: a string as is; another hashable value is formatted with Python's
// str() and never matches an op; a list or dict is Python's TypeError.
func opNameArg(v any) (name string, isStr bool, err error) {
	switch x := normalize(v).(type) {
	case string:
		return x, true, nil
	case []any, map[string]any:
		return "", false, &pyCallError{fmt.Sprintf("unhashable type: '%s'", pyTypeName(x))}
	default:
		return pyStr(x), false, nil
	}
}

// handleOps is the <address>.ops procedure.
func (a *Agent) handleOps(ctx context.Context, inv *wamp.Invocation) client.InvokeResult {
	vals, err := bindArgs("_ops_handler", opsArgNames, 2, inv.Arguments, inv.ArgumentsKw, false)
	if err != nil {
		return runtimeError(err)
	}
	action, _ := vals[0].(string)
	switch action {
	case "start", "stop", "abort", "wait", "status":
	default:
		// Quirk (copy): the message names the op, not the action.
		return okResult(reply{codeError, fmt.Sprintf("No implementation for \"%s\"", pyStr(normalize(vals[1]))), nil}.list())
	}
	name, isStr, err := opNameArg(vals[1])
	if err != nil {
		return runtimeError(err)
	}
	var r reply
	var ok bool
	switch action {
	case "start":
		ok = a.ops.doCtx(ctx, func() { r = a.ops.start(name, isStr, vals[2]) })
	case "stop", "abort":
		ok = a.ops.doCtx(ctx, func() { r = a.ops.stopOrAbort(action, name, isStr) })
	case "status":
		ok = a.ops.doCtx(ctx, func() { r = a.ops.status(name, isStr) })
	case "wait":
		r, ok, err = a.wait(ctx, name, isStr, vals[3])
		if err != nil {
			return runtimeError(err)
		}
	}
	if !ok {
		return runtimeError(fmt.Errorf("agent %s is shutting down", a.address))
	}
	return okResult(r.list())
}

// maxWait caps a wait timeout (a float of seconds) to what a time.Duration
// holds comfortably.
const maxWait = 100 * 365 * 24 * time.Hour

// wait is the .ops "wait" action. It blocks the calling handler until the
// op's session is done, the timeout passes, or ctx ends.
func (a *Agent) wait(ctx context.Context, name string, isStr bool, timeout any) (reply, bool, error) {
	var (
		unknown, idle, isDone bool
		s                     *session
	)
	if !a.ops.doCtx(ctx, func() {
		o := a.ops.lookup(name, isStr)
		switch {
		case o == nil:
			unknown = true
		case o.cur == nil:
			idle = true
		default:
			s = o.cur
			isDone = s.status == StatusDone
		}
	}) {
		return reply{}, false, nil
	}
	switch {
	case unknown:
		return reply{codeError, fmt.Sprintf("Unknown operation \"%s\".", name), nil}, true, nil
	case idle:
		return reply{codeOK, "Idle.", nil}, true, nil
	}

	var timer *time.Timer
	var expired <-chan time.Time
	if !isDone && timeout != nil {
		secs, err := waitSeconds(timeout)
		if err != nil {
			return reply{}, false, err
		}
		if secs < 0 {
			return a.waitResult(ctx, name, s)
		}
		d := maxWait
		if secs < maxWait.Seconds() {
			d = time.Duration(secs * float64(time.Second))
		}
		timer = time.NewTimer(d)
		defer timer.Stop()
		expired = timer.C
	}
	select {
	case <-s.finished:
	case <-expired:
	case <-ctx.Done():
		return reply{}, false, nil
	}
	return a.waitResult(ctx, name, s)
}

// waitResult encodes s: OK if it is done, TIMEOUT otherwise.
func (a *Agent) waitResult(ctx context.Context, name string, s *session) (reply, bool, error) {
	var r reply
	ok := a.ops.doCtx(ctx, func() {
		if s.status != StatusDone {
			r = reply{codeTimeout, fmt.Sprintf("Operation \"%s\" still running; wait timed out.", name), s.encode()}
			return
		}
		outcome := "FAILED"
		if s.success {
			outcome = "SUCCEEDED"
		}
		r = reply{codeOK, fmt.Sprintf("Operation \"%s\" is currently not running (%s).", name, outcome), s.encode()}
	})
	return r, ok, nil
}

// waitSeconds converts a wait timeout the way Python compares it with 0:
// numbers (and bools) pass; anything else is a TypeError.
func waitSeconds(v any) (float64, error) {
	n := normalize(v)
	f, ok := pyNumber(n)
	if !ok {
		if x, isFloat := n.(float64); isFloat && math.IsNaN(x) {
			return 0, &pyCallError{"nan is not greater than or equal to 0 seconds"}
		}
		return 0, &pyCallError{fmt.Sprintf("'<' not supported between instances of '%s' and 'int'", pyTypeName(n))}
	}
	secs, _ := f.Float64()
	return secs, nil
}

// handleManagement is the <address> procedure:
// _management_handler(self, q, **kwargs).
func (a *Agent) handleManagement(ctx context.Context, inv *wamp.Invocation) client.InvokeResult {
	vals, err := bindArgs("_management_handler", []string{"q"}, 1, inv.Arguments, inv.ArgumentsKw, true)
	if err != nil {
		return runtimeError(err)
	}
	q, _ := vals[0].(string)
	var result any
	var ok = true
	switch q {
	case "get_api":
		result, ok = a.api(ctx)
	case "get_tasks":
		var tasks []any
		ok = a.ops.doCtx(ctx, func() { tasks = a.ops.opTuples(kindTask) })
		result = tasks
	case "get_processes":
		var procs []any
		ok = a.ops.doCtx(ctx, func() { procs = a.ops.opTuples(kindProcess) })
		result = procs
	case "get_feeds":
		result = a.feedList()
	case "get_agent_class":
		result = a.agentClass()
	}
	if !ok {
		return runtimeError(fmt.Errorf("agent %s is shutting down", a.address))
	}
	return okResult(result)
}
