package agents

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
)

// OpFunc is the body of an op. It runs on its own goroutine with the
// params checked against the op's declarations. Its (ok, message) result
// becomes the session's last message and success; a non-nil error ends
// the session with "CRASH: <error>" (or "ERROR: <msg>" for a
// *[ParamError]) and success false, as does a panic.
type OpFunc func(s *Session, params Params) (ok bool, message string, err error)

// OpSpec declares a task or a process.
type OpSpec struct {
	// Name is the op name used by clients (e.g. "record").
	Name string
	// Run is the op body. Required.
	Run OpFunc
	// Params are the declared params, in source order (the order of OCS's
	// @param decorators top to bottom). When several are bad the one
	// declared last is reported, as in OCS. No declarations: the op gets
	// the raw params object, unchecked.
	Params []Param
	// Docstring is reported in get_api (nil: null). Copy Python's text
	// verbatim when porting an agent.
	Docstring *string
	// Blocking is reported in get_api (in Python: whether the body runs in
	// a worker thread). Informational.
	Blocking bool
	// Abortable marks a task whose abort is honoured: abort then sets the
	// status to "stopping" and closes Session.Stopping. An abort of a
	// non-abortable task is answered OK and does nothing else, as in OCS.
	// Processes can always be stopped; the field is ignored for them.
	Abortable bool
	// Startup launches the op at the first join, with StartupParams (nil
	// means {}), in registration order.
	Startup       bool
	StartupParams map[string]any
}

// Doc returns a pointer to s, for OpSpec.Docstring.
func Doc(s string) *string { return &s }

type opKind uint8

const (
	kindTask opKind = iota
	kindProcess
)

func (k opKind) String() string {
	if k == kindTask {
		return "task"
	}
	return "process"
}

// op is one registered op; cur is its latest session (nil: none in this
// process, or discarded by a rejected start).
type op struct {
	spec OpSpec
	kind opKind
	cur  *session
}

// reply is an .ops reply (status, message, session).
type reply struct {
	code int
	msg  string
	sess map[string]any
}

func (r reply) list() []any {
	sess := r.sess
	if sess == nil {
		sess = map[string]any{}
	}
	return []any{r.code, r.msg, sess}
}

// OCS response codes (ocs.base.ResponseCode).
const (
	codeOK      = 0
	codeError   = -1
	codeTimeout = 1
)

// opsManager is the op state machine. Its state (ops, sessions, the
// session counter) is touched only by its loop goroutine, through do; before
// the loop starts, registration fills ops from the caller's goroutine.
type opsManager struct {
	log     *slog.Logger
	now     func() time.Time
	reqs    chan func()
	quit    chan struct{}
	stopped chan struct{}

	ops     []*op
	byName  map[string]*op
	nextID  int
	live    int             // op goroutines that have not finished
	idle    []chan struct{} // closed when live drops to 0
	closing bool            // shutting down: new sessions are stopped at once

	opCtx     context.Context    // parent of every session's context
	cancelOps context.CancelFunc // cancels opCtx: the hard stop
}

func newOpsManager(log *slog.Logger, now func() time.Time) *opsManager {
	ctx, cancel := context.WithCancel(context.Background())
	return &opsManager{
		log:       log,
		now:       now,
		reqs:      make(chan func()),
		quit:      make(chan struct{}),
		stopped:   make(chan struct{}),
		byName:    map[string]*op{},
		opCtx:     ctx,
		cancelOps: cancel,
	}
}

func (m *opsManager) nowFloat() float64 { return unixFloat(m.now()) }

// unixFloat is Python's time.time() for t.
func unixFloat(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// register adds an op (before the loop starts).
func (m *opsManager) register(kind opKind, spec OpSpec) error {
	if spec.Name == "" {
		return errors.New("register op: name is required")
	}
	if spec.Run == nil {
		return fmt.Errorf("register %s %q: Run is required", kind, spec.Name)
	}
	if _, dup := m.byName[spec.Name]; dup {
		return fmt.Errorf("register %s %q: an op of that name exists", kind, spec.Name)
	}
	if err := validateDecls(spec.Name, spec.Params); err != nil {
		return fmt.Errorf("register %s: %w", kind, err)
	}
	spec.Params = append([]Param(nil), spec.Params...)
	o := &op{spec: spec, kind: kind}
	m.ops = append(m.ops, o)
	m.byName[spec.Name] = o
	return nil
}

// loop runs the state machine until stop is called.
func (m *opsManager) loop() {
	defer close(m.stopped)
	purge := time.NewTicker(purgeInterval)
	defer purge.Stop()
	for {
		select {
		case f := <-m.reqs:
			f()
		case <-purge.C:
			m.purgeAll()
		case <-m.quit:
			return
		}
	}
}

// stop ends the loop and waits for it.
func (m *opsManager) stop() {
	select {
	case <-m.quit:
	default:
		close(m.quit)
	}
	<-m.stopped
}

// do runs f on the state machine's goroutine and waits for it. It returns
// false without running f when the state machine has stopped.
func (m *opsManager) do(f func()) bool {
	done := make(chan struct{})
	select {
	case m.reqs <- func() { f(); close(done) }:
		<-done
		return true
	case <-m.stopped:
		return false
	}
}

// doCtx is do that also gives up when ctx ends (for RPC handlers).
func (m *opsManager) doCtx(ctx context.Context, f func()) bool {
	done := make(chan struct{})
	select {
	case m.reqs <- func() { f(); close(done) }:
		<-done
		return true
	case <-m.stopped:
		return false
	case <-ctx.Done():
		return false
	}
}

func (m *opsManager) purgeAll() {
	now := m.nowFloat()
	for _, o := range m.ops {
		if o.cur != nil {
			o.cur.purge(now)
		}
	}
}

// The functions below run on the state machine's goroutine.

// setStatus moves s forward to st and logs the change in its messages.
func (m *opsManager) setStatus(s *session, st Status) {
	m.setStatusAt(s, st, m.nowFloat())
}

func (m *opsManager) setStatusAt(s *session, st Status, t float64) {
	if st.rank() <= s.status.rank() {
		return
	}
	s.status = st
	if st == StatusDone {
		s.endTime = t
	}
	m.addMessage(s, fmt.Sprintf("Status is now %q.", string(st)), t)
	if st == StatusDone {
		close(s.finished)
	}
}

func (m *opsManager) addMessage(s *session, text string, t float64) {
	s.messages = append(s.messages, []any{t, text})
	if n := len(s.messages) - maxMessages; n > 0 {
		// Enforce the cap at once (Python waits for the periodic purge);
		// the age rule stays periodic. Re-slicing is O(1); append's next
		// reallocation copies only the live part.
		clear(s.messages[:n])
		s.messages = s.messages[n:]
	}
	m.log.Info(fmt.Sprintf("%s:%d %s", s.op.spec.Name, s.id, text))
}

func (m *opsManager) lookup(name string, isStr bool) *op {
	if !isStr {
		return nil
	}
	return m.byName[name]
}

// start is the .ops "start" action.
func (m *opsManager) start(name string, isStr bool, rawParams any) reply {
	o := m.lookup(name, isStr)
	if o == nil {
		m.log.Warn("start: no such op", "op", name)
		return reply{codeError, fmt.Sprintf("No task or process called \"%s\"", name), nil}
	}
	if o.cur != nil {
		if o.cur.status != StatusDone {
			return reply{codeError, fmt.Sprintf("Operation \"%s\" already in progress.", name), o.cur.encode()}
		}
		o.cur = nil // Quirk (copy): a rejected start below leaves no session
	}
	var params Params
	if len(o.spec.Params) > 0 {
		p, err := checkParams(o.spec.Params, rawParams)
		var pe *ParamError
		var pc *paramCrash
		switch {
		case errors.As(err, &pe):
			m.log.Error("param error during start", "op", name, "err", pe.Msg)
			return reply{codeError, pe.Msg, nil}
		case errors.As(err, &pc):
			m.log.Error("exception during start", "op", name, "err", pc.msg)
			return reply{codeError, "CRASH: during param pre-processing: " + pc.msg, nil}
		}
		params = p
	} else if raw, ok := normalize(rawParams).(map[string]any); ok {
		params = raw
	}
	s := m.newSession(o)
	m.launch(o, s, params)
	return reply{codeOK, fmt.Sprintf("Started %s \"%s\".", o.kind, name), s.encode()}
}

func (m *opsManager) newSession(o *op) *session {
	t := m.nowFloat()
	ctx, cancel := context.WithCancel(m.opCtx)
	s := &session{
		id:        m.nextID,
		op:        o,
		startTime: t,
		data:      map[string]any{},
		stopReq:   make(chan struct{}),
		finished:  make(chan struct{}),
		ctx:       ctx,
		cancel:    cancel,
	}
	m.nextID++
	s.handle = &Session{
		m: m, s: s, id: s.id, opName: o.spec.Name,
		log: m.log.With("op", o.spec.Name, "session_id", s.id),
	}
	m.setStatusAt(s, StatusStarting, t)
	s.purge(t)
	o.cur = s
	return s
}

// launch starts the op's goroutine; Run waits for it (whenIdle) at
// shutdown.
func (m *opsManager) launch(o *op, s *session, params Params) {
	m.live++
	if m.closing {
		m.requestStop(o, s)
	}
	go m.runOp(o, s, params)
}

// whenIdle returns a channel closed once no op goroutine is running.
func (m *opsManager) whenIdle() <-chan struct{} {
	ch := make(chan struct{})
	if m.live == 0 {
		close(ch)
	} else {
		m.idle = append(m.idle, ch)
	}
	return ch
}

func (m *opsManager) runOp(o *op, s *session, params Params) {
	defer s.cancel()
	skip := false
	m.do(func() {
		if s.status == StatusStarting {
			m.setStatus(s, StatusRunning)
		} else {
			skip = true // stopped before the body began: done, success
		}
	})
	ok, msg, err := true, "", error(nil)
	if !skip {
		ok, msg, err = m.call(o, s, params)
	}
	m.do(func() {
		t := m.nowFloat()
		switch {
		case skip:
			s.success = true
		case err != nil:
			var pe *ParamError
			if errors.As(err, &pe) {
				m.addMessage(s, "ERROR: "+pe.Msg, t)
			} else {
				m.addMessage(s, "CRASH: "+err.Error(), t)
			}
			s.success = false
		default:
			m.addMessage(s, msg, t)
			s.success = ok
		}
		m.setStatusAt(s, StatusDone, m.nowFloat())
		m.live--
		if m.live == 0 {
			for _, ch := range m.idle {
				close(ch)
			}
			m.idle = nil
		}
	})
}

// call runs the op body, turning a panic into an error.
func (m *opsManager) call(o *op, s *session, params Params) (ok bool, msg string, err error) {
	defer func() {
		if r := recover(); r != nil {
			m.log.Error("op panicked", "op", o.spec.Name, "session_id", s.id, "panic", r, "stack", string(debug.Stack()))
			ok, msg, err = false, "", fmt.Errorf("panic: %v", r)
		}
	}()
	return o.spec.Run(s.handle, params)
}

// stopOrAbort is the .ops "stop" and "abort" actions (action is which).
func (m *opsManager) stopOrAbort(action, name string, isStr bool) reply {
	o := m.lookup(name, isStr)
	if o == nil {
		return reply{codeError, fmt.Sprintf("No operation called \"%s\".", name), nil}
	}
	if (action == "stop" && o.kind == kindTask) || (action == "abort" && o.kind == kindProcess) {
		// Quirk (copy): OCS leaves {op_type} unformatted.
		return reply{codeError, fmt.Sprintf("Cannot \"%s\" \"%s\" because it is a \"{op_type}\".", action, name), nil}
	}
	s := o.cur
	if s == nil {
		return reply{codeError, "No session active.", nil}
	}
	if s.status == StatusStopping || s.status == StatusDone {
		return reply{codeError, "The operation is already " + string(s.status), nil}
	}
	enc := s.encode() // the reply shows the session before the stop
	m.requestStop(o, s)
	// Quirk (copy): the stray quote before the period.
	return reply{codeOK, fmt.Sprintf("Requested %s on %s %s\".", action, o.kind, name), enc}
}

// requestStop asks the op to stop: status "stopping" and Stopping closed,
// unless it is a task without aborter, which OCS lets run to completion.
func (m *opsManager) requestStop(o *op, s *session) {
	if o.kind == kindTask && !o.spec.Abortable {
		m.log.Warn("abort requested for a task that is not abortable; it runs to completion", "op", o.spec.Name, "session_id", s.id)
		return
	}
	if !s.stopAsked {
		s.stopAsked = true
		close(s.stopReq)
	}
	m.setStatus(s, StatusStopping)
}

// status is the .ops "status" action.
func (m *opsManager) status(name string, isStr bool) reply {
	o := m.lookup(name, isStr)
	if o == nil {
		return reply{codeError, fmt.Sprintf("No task or process called \"%s\"", name), nil}
	}
	if o.cur == nil {
		return reply{codeOK, "No session active.", nil}
	}
	return reply{codeOK, "Session active.", o.cur.encode()}
}

// stopAll stops every process and aborts every task whose session is
// starting or running, as a client would. With closing, sessions started
// later are stopped at once (shutdown).
func (m *opsManager) stopAll(closing bool) {
	m.closing = m.closing || closing
	for _, o := range m.ops {
		s := o.cur
		if s == nil || (s.status != StatusStarting && s.status != StatusRunning) {
			continue
		}
		action := "stop"
		if o.kind == kindTask {
			action = "abort"
		}
		r := m.stopOrAbort(action, o.spec.Name, true)
		m.log.Info("shutdown: "+action, "op", o.spec.Name, "session_id", s.id, "reply", r.msg)
	}
}

// opCodes returns each op's current op code in registration order (1 for
// no session).
func (m *opsManager) opCodes() []any {
	out := make([]any, 0, 2*len(m.ops))
	for _, o := range m.ops {
		code := OpCodeNone
		if o.cur != nil {
			code = o.cur.opCode()
		}
		out = append(out, o.spec.Name, int(code))
	}
	return out
}

// busy lists the ops whose session is not done.
func (m *opsManager) busy() []string {
	var names []string
	for _, o := range m.ops {
		if o.cur != nil && o.cur.status != StatusDone {
			names = append(names, o.spec.Name)
		}
	}
	return names
}
