package router

import (
	"strings"

	"github.com/gammazero/nexus/v3/wamp"
)

// prefixAuthorizer is crossbar's OCS role rule (roles iocs_agent and
// iocs_controller): a URI rule with match "prefix" on "<address_root>.".
// A URI outside the prefix matches no permission, so calling, registering,
// publishing and subscribing there are all refused; nexus answers the
// refusal with wamp.error.not_authorized (for a PUBLISH only when the
// publisher asked for an acknowledgement, as crossbar does).
//
// In-process sessions are trusted, so the HTTP bridge applies the same rule
// itself.
type prefixAuthorizer struct {
	prefix string // "<address_root>."
}

func (a prefixAuthorizer) allowed(uri wamp.URI) bool {
	return strings.HasPrefix(string(uri), a.prefix)
}

// Transport details the router attaches to every WebSocket session.
const (
	transportType      = "type"
	transportWebSocket = "websocket"
)

// isWebSocket reports whether sess came in over the router's WebSocket
// endpoint (rather than being an in-process session).
func isWebSocket(sess *wamp.Session) bool {
	t, ok := wamp.AsDict(sess.Details["transport"])
	if !ok {
		return false
	}
	kind, _ := wamp.AsString(t[transportType])
	return kind == transportWebSocket
}

// Authorize implements nexus's router.Authorizer. In-process sessions (the
// HTTP bridge, Router.ConnectLocal) are trusted.
func (a prefixAuthorizer) Authorize(sess *wamp.Session, msg wamp.Message) (bool, error) {
	if !isWebSocket(sess) {
		return true, nil
	}
	switch m := msg.(type) {
	case *wamp.Call:
		return a.allowed(m.Procedure), nil
	case *wamp.Register:
		return a.allowed(m.Procedure), nil
	case *wamp.Publish:
		return a.allowed(m.Topic), nil
	case *wamp.Subscribe:
		return a.allowed(m.Topic), nil
	}
	return true, nil
}
