package agents

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"
)

// shutdownGrace is how long Run still waits for ops after cancelling their
// contexts when they ignored the stop request for Config.StopTimeout.
const shutdownGrace = time.Second

// JoinError is returned by Run when the first join fails for a reason that
// retrying cannot fix: the procedures are already registered (the same
// agent is running elsewhere) or the router refuses the address.
type JoinError struct {
	Procedure string
	URI       string // WAMP error URI
	Hint      string
	Err       error
}

func (e *JoinError) Error() string {
	return fmt.Sprintf("register %q: %s: %s", e.Procedure, e.URI, e.Hint)
}

func (e *JoinError) Unwrap() error { return e.Err }

// Run connects the agent and keeps it on the realm until ctx is cancelled
// or Config.CrossbarTimeout passes without a rejoin; then it stops the ops
// (stop for processes, abort for tasks whose session is starting or
// running), waits for them at most Config.StopTimeout, leaves the realm
// with GOODBYE and returns nil. It returns a *[JoinError] if the first join
// finds the procedures already registered or is not authorized. Run may be
// called once.
//
// Connection attempts are retried forever with capped exponential backoff
// and jitter, each failure logged. On every join Run registers
// <address>.ops, then <address>; starts the heartbeat; subscribes each
// subscription once. On the first join only it starts the start-up ops in
// registration order. When the session is lost the ops keep running.
func (a *Agent) Run(ctx context.Context) error {
	a.mu.Lock()
	if a.started {
		a.mu.Unlock()
		return fmt.Errorf("agent %s: Run called twice", a.address)
	}
	a.started = true
	subs := append([]*Subscription(nil), a.subs...)
	a.mu.Unlock()

	go a.ops.loop()
	defer a.ops.stop()
	defer a.ops.cancelOps()

	quit := make(chan struct{})
	var workers sync.WaitGroup
	for _, s := range subs {
		if s.queue != nil {
			workers.Add(1)
			go func() {
				defer workers.Done()
				s.work(quit)
			}()
		}
	}
	defer workers.Wait()
	defer close(quit)

	return a.supervise(ctx, subs)
}

// supervise is the connection loop: dial, join, wait for loss or ctx.
func (a *Agent) supervise(ctx context.Context, subs []*Subscription) error {
	first := true
	var lostAt time.Time // zero until a joined session was lost
	delay := a.cfg.ReconnectMinDelay
	attempt := 0
	for {
		if ctx.Err() != nil {
			return a.shutdown(nil, "context cancelled")
		}
		attempt++
		c, err := a.dial(ctx)
		if err == nil {
			// The heartbeat feed exists before the procedures do, so a
			// get_api answered right after registration lists it.
			a.ensureHeartbeatFeed()
			a.setClient(c)
			if err = a.join(c, subs); err != nil {
				a.setClient(nil)
				_ = c.Close()
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return a.shutdown(nil, "context cancelled")
			}
			var je *JoinError
			if errors.As(err, &je) {
				if first {
					a.log.Error("cannot register the agent's procedures", "err", err)
					return err
				}
				a.log.Error("cannot register the agent's procedures after a reconnect; retrying", "err", err)
			}
			wait := jitter(delay)
			delay = min(time.Duration(float64(delay)*1.5), a.cfg.ReconnectMaxDelay)
			if !lostAt.IsZero() && a.cfg.CrossbarTimeout > 0 {
				left := a.cfg.CrossbarTimeout - time.Since(lostAt)
				if left <= 0 {
					a.log.Error("no rejoin within crossbar_timeout; shutting down", "crossbar_timeout", a.cfg.CrossbarTimeout)
					return a.shutdown(nil, "crossbar_timeout")
				}
				wait = min(wait, left)
			}
			a.log.Warn("cannot join the WAMP realm; retrying", "url", a.cfg.URL, "realm", a.cfg.Realm,
				"attempt", attempt, "retry_in", wait.Round(time.Millisecond), "err", err)
			if !sleep(ctx, wait) {
				return a.shutdown(nil, "context cancelled")
			}
			continue
		}

		a.log.Info("joined the WAMP realm", "url", a.cfg.URL, "realm", a.cfg.Realm, "attempt", attempt)
		attempt, delay = 0, a.cfg.ReconnectMinDelay
		hb := a.ensureHeartbeatFeed()
		hbStop, hbDone := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(hbDone)
			a.runHeartbeat(hb, hbStop)
		}()
		stopHeartbeat := func() { close(hbStop); <-hbDone }
		if first {
			a.startupOps()
			first = false
		}

		select {
		case <-ctx.Done():
			return a.shutdown(c, "context cancelled", stopHeartbeat)
		case <-c.Done():
		}
		stopHeartbeat()
		a.setClient(nil)
		reason := wamp.URI("transport lost")
		if g := c.RouterGoodbye(); g != nil {
			reason = g.Reason
		}
		_ = c.Close()
		lostAt = time.Now()
		a.log.Warn("lost the WAMP session; ops keep running, reconnecting", "reason", reason)
		if reason == wamp.CloseNormal {
			// As OCS's onLeave: a normal close of the session stops the ops.
			a.ops.do(func() { a.ops.stopAll(false) })
		}
		if !sleep(ctx, jitter(delay)) {
			return a.shutdown(nil, "context cancelled")
		}
	}
}

// join registers the procedures (.ops first, then the management one) and
// subscribes each subscription once.
func (a *Agent) join(c *client.Client, subs []*Subscription) error {
	for _, p := range []struct {
		uri string
		fn  client.InvocationHandler
	}{
		{a.address + ".ops", a.handleOps},
		{a.address, a.handleManagement},
	} {
		if err := c.Register(p.uri, p.fn, nil); err != nil {
			return registerError(p.uri, err)
		}
	}
	for _, s := range subs {
		if err := c.Subscribe(s.topic, s.onEvent, s.options()); err != nil {
			return fmt.Errorf("subscribe %q (%s): %w", s.topic, s.match, err)
		}
	}
	return nil
}

// registerError turns the two registration failures OCS explains into a
// *JoinError with OCS's hint.
func registerError(uri string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, string(wamp.ErrProcedureAlreadyExists)):
		return &JoinError{Procedure: uri, URI: string(wamp.ErrProcedureAlreadyExists),
			Hint: "is this agent already running?", Err: err}
	case strings.Contains(msg, string(wamp.ErrNotAuthorized)):
		return &JoinError{Procedure: uri, URI: string(wamp.ErrNotAuthorized),
			Hint: "are the WAMP realm and the OCS address_root consistent in the site config and the router config?", Err: err}
	}
	return fmt.Errorf("register %q: %w", uri, err)
}

// startupOps starts the ops declared with Startup, in registration order.
func (a *Agent) startupOps() {
	a.ops.do(func() {
		for _, o := range a.ops.ops {
			if !o.spec.Startup {
				continue
			}
			params := map[string]any{}
			if o.spec.StartupParams != nil {
				params = o.spec.StartupParams
			}
			r := a.ops.start(o.spec.Name, true, params)
			a.log.Info("startup op launched", "op", o.spec.Name, "reply", r.msg)
		}
	})
}

// shutdown stops the ops, waits for them within StopTimeout, stops the
// heartbeat, leaves the realm (when c is not nil) and returns nil.
func (a *Agent) shutdown(c *client.Client, why string, stopHeartbeat ...func()) error {
	a.log.Info("shutting down: stopping ops", "reason", why, "stop_timeout", a.cfg.StopTimeout)
	var idle <-chan struct{}
	a.ops.do(func() {
		a.ops.stopAll(true)
		idle = a.ops.whenIdle()
	})
	timer := time.NewTimer(a.cfg.StopTimeout)
	select {
	case <-idle:
		timer.Stop()
	case <-timer.C:
		var busy []string
		a.ops.do(func() { busy = a.ops.busy() })
		a.log.Warn("ops did not finish within the stop timeout; cancelling them", "ops", busy)
		a.ops.cancelOps()
		grace := time.NewTimer(shutdownGrace)
		select {
		case <-idle:
		case <-grace.C:
			a.log.Error("ops still running; leaving without them", "ops", busy)
		}
		grace.Stop()
	}
	for _, f := range stopHeartbeat {
		f()
	}
	if c != nil {
		a.setClient(nil)
		_ = c.Close() // GOODBYE
		a.log.Info("left the WAMP realm")
	}
	a.ops.cancelOps()
	return nil
}

// jitter spreads d uniformly over [0.75d, 1.25d).
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.75 + 0.5*rand.Float64()))
}

// sleep waits d; false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
