package router

import (
	"sync"

	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"
)

// noCalleeText is crossbar's argument text for wamp.error.no_such_procedure.
func noCalleeText(procedure wamp.URI) string {
	return "no callee registered for procedure <" + string(procedure) + ">"
}

// maxTrackedCalls bounds the memory one connection can pin with calls the
// router has not answered yet.
const maxTrackedCalls = 1 << 16

// crossbarErrors wraps one connection's serializer to give the router's
// wamp.error.no_such_procedure replies crossbar's argument text. nexus
// sends that error without arguments and the ERROR message does not name
// the procedure, so the wrapper remembers the procedure of every CALL the
// client sends until the router answers it.
type crossbarErrors struct {
	serialize.Serializer

	mu    sync.Mutex
	calls map[wamp.ID]wamp.URI
}

func newCrossbarErrors(s serialize.Serializer) *crossbarErrors {
	return &crossbarErrors{Serializer: s, calls: map[wamp.ID]wamp.URI{}}
}

// Deserialize decodes a message from the client, noting CALLs.
func (s *crossbarErrors) Deserialize(data []byte) (wamp.Message, error) {
	msg, err := s.Serializer.Deserialize(data)
	if call, ok := msg.(*wamp.Call); ok && err == nil {
		s.mu.Lock()
		if len(s.calls) < maxTrackedCalls {
			s.calls[call.Request] = call.Procedure
		}
		s.mu.Unlock()
	}
	return msg, err
}

// Serialize encodes a message to the client, completing a bare
// no_such_procedure error.
func (s *crossbarErrors) Serialize(msg wamp.Message) ([]byte, error) {
	switch m := msg.(type) {
	case *wamp.Result:
		if progress, _ := m.Details[wamp.OptProgress].(bool); !progress {
			s.forget(m.Request)
		}
	case *wamp.Error:
		if m.Type == wamp.CALL {
			proc := s.forget(m.Request)
			if m.Error == wamp.ErrNoSuchProcedure && len(m.Arguments) == 0 && proc != "" {
				filled := *m
				filled.Arguments = wamp.List{noCalleeText(proc)}
				msg = &filled
			}
		}
	}
	return s.Serializer.Serialize(msg)
}

func (s *crossbarErrors) forget(id wamp.ID) wamp.URI {
	s.mu.Lock()
	defer s.mu.Unlock()
	proc := s.calls[id]
	delete(s.calls, id)
	return proc
}
