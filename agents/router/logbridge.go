package router

import (
	"context"
	"log"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Stats are the router's counters since Run started.
type Stats struct {
	// DroppedEvents counts EVENT messages nexus dropped because the
	// subscriber's outbound queue (OutQueueSize) was full.
	DroppedEvents uint64
	// DroppedOther counts other messages nexus dropped for the same reason
	// (RESULT, INVOCATION, ERROR, ...).
	DroppedOther uint64
	// TooLarge counts WebSocket messages refused for exceeding
	// MaxMessageSize (each closed its connection).
	TooLarge uint64
}

// counters are updated from nexus's goroutines and read by Stats.
type counters struct {
	droppedEvents atomic.Uint64
	droppedOther  atomic.Uint64
	tooLarge      atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		DroppedEvents: c.droppedEvents.Load(),
		DroppedOther:  c.droppedOther.Load(),
		TooLarge:      c.tooLarge.Load(),
	}
}

// dropLogInterval bounds how often a drop is logged: under overload nexus
// reports every single dropped message.
const dropLogInterval = 10 * time.Second

// newNexusLogger bridges nexus's log (a *log.Logger) into logger. nexus's
// routine messages go to Debug; its "!!! Dropped <TYPE> to session ..."
// reports are counted in c and logged at Warn at most once per
// dropLogInterval; "not authorized" reports go to Warn, since they usually
// mean a client's address_root does not match the router's.
func newNexusLogger(logger *slog.Logger, c *counters) *log.Logger {
	h := &nexusHandler{inner: logger.Handler(), counters: c, throttle: &throttle{}}
	return slog.NewLogLogger(h, slog.LevelDebug)
}

type throttle struct {
	mu   sync.Mutex
	last time.Time
}

func (t *throttle) allow(now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.last.IsZero() && now.Sub(t.last) < dropLogInterval {
		return false
	}
	t.last = now
	return true
}

type nexusHandler struct {
	inner    slog.Handler
	counters *counters
	throttle *throttle
}

// Enabled is always true so drops are counted whatever the log level.
func (h *nexusHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *nexusHandler) Handle(ctx context.Context, r slog.Record) error {
	msg := r.Message
	level := slog.LevelDebug
	switch {
	case strings.Contains(msg, "Dropped "):
		if strings.Contains(msg, "Dropped EVENT ") {
			h.counters.droppedEvents.Add(1)
		} else {
			h.counters.droppedOther.Add(1)
		}
		if !h.throttle.allow(r.Time) {
			return nil
		}
		s := h.counters.snapshot()
		rec := slog.NewRecord(r.Time, slog.LevelWarn,
			"router dropped messages to a session whose outbound queue is full (slow subscriber?)", r.PC)
		rec.AddAttrs(
			slog.String("nexus", strings.TrimSpace(strings.TrimPrefix(msg, "!!!"))),
			slog.Uint64("dropped_events_total", s.DroppedEvents),
			slog.Uint64("dropped_other_total", s.DroppedOther),
		)
		return h.forward(ctx, rec)
	case strings.Contains(msg, "not authorized"):
		level = slog.LevelWarn
	}
	rec := slog.NewRecord(r.Time, level, "nexus: "+msg, r.PC)
	return h.forward(ctx, rec)
}

func (h *nexusHandler) forward(ctx context.Context, r slog.Record) error {
	if !h.inner.Enabled(ctx, r.Level) {
		return nil
	}
	return h.inner.Handle(ctx, r)
}

func (h *nexusHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &nexusHandler{inner: h.inner.WithAttrs(attrs), counters: h.counters, throttle: h.throttle}
}

func (h *nexusHandler) WithGroup(name string) slog.Handler {
	return &nexusHandler{inner: h.inner.WithGroup(name), counters: h.counters, throttle: h.throttle}
}
