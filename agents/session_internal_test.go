package agents

import (
	"io"
	"log/slog"
	"testing"
	"time"
)

// TestStopBeforeBodyStarts: a stop accepted while the session is still
// "starting" ends it with success true without running the body (the
// Quirk (fix) of ocs-protocol.md §3.2: Python crashes with an
// AssertionError there).
func TestStopBeforeBodyStarts(t *testing.T) {
	m := newOpsManager(slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	ran := make(chan struct{}, 1)
	if err := m.register(kindProcess, OpSpec{Name: "p", Run: func(s *Session, _ Params) (bool, string, error) {
		ran <- struct{}{}
		return false, "ran", nil
	}}); err != nil {
		t.Fatal(err)
	}
	go m.loop()
	defer m.stop()
	var s *session
	var stopReply reply
	m.do(func() {
		r := m.start("p", true, nil)
		if r.code != codeOK {
			t.Errorf("start: %+v", r)
		}
		s = m.byName["p"].cur
		stopReply = m.stopOrAbort("stop", "p", true) // the op goroutine cannot run before this closure ends
	})
	if stopReply.code != codeOK || stopReply.sess["status"] != "starting" {
		t.Fatalf("stop reply %+v", stopReply)
	}
	select {
	case <-s.finished:
	case <-time.After(5 * time.Second):
		t.Fatal("session did not finish")
	}
	var enc map[string]any
	m.do(func() { enc = s.encode() })
	if enc["status"] != "done" || enc["success"] != true || enc["op_code"] != 5 {
		t.Errorf("session %v", enc)
	}
	var texts []string
	for _, e := range enc["messages"].([]any) {
		texts = append(texts, e.([]any)[1].(string))
	}
	want := []string{`Status is now "starting".`, `Status is now "stopping".`, `Status is now "done".`}
	if len(texts) != len(want) {
		t.Fatalf("messages %q, want %q", texts, want)
	}
	for i := range want {
		if texts[i] != want[i] {
			t.Errorf("message %d %q, want %q", i, texts[i], want[i])
		}
	}
	select {
	case <-ran:
		t.Error("the op body ran after a stop while starting")
	default:
	}
}

// TestPurgePolicy exercises session.purge directly (checklist 26).
func TestPurgePolicy(t *testing.T) {
	mk := func(times ...float64) *session {
		s := &session{}
		for _, tm := range times {
			s.messages = append(s.messages, []any{tm, "m"})
		}
		return s
	}
	now := 10000.0
	s := mk(1, 2, 3, 4, 5, 6, 7, now)
	s.purge(now)
	if len(s.messages) != 5 || s.messages[0].([]any)[0] != 4.0 {
		t.Errorf("old messages: kept %v", s.messages)
	}
	s = mk(1, 2, 3)
	s.purge(now)
	if len(s.messages) != 3 {
		t.Errorf("at most 5 messages are never purged: kept %d", len(s.messages))
	}
	s = mk(now-3599, now-3598, now-1, now, now, now, now)
	s.purge(now)
	if len(s.messages) != 7 {
		t.Errorf("young messages purged: kept %d", len(s.messages))
	}
	var many []float64
	for i := 0; i < maxMessages+7; i++ {
		many = append(many, now)
	}
	s = mk(many...)
	s.purge(now)
	if len(s.messages) != maxMessages {
		t.Errorf("cap: kept %d", len(s.messages))
	}
}
