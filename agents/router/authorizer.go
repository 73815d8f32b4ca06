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
// nexus does not consult the authorizer for in-process (local) sessions, so
// the HTTP bridge applies the same rule itself.
type prefixAuthorizer struct {
	prefix string // "<address_root>."
}

func (a prefixAuthorizer) allowed(uri wamp.URI) bool {
	return strings.HasPrefix(string(uri), a.prefix)
}

// Authorize implements nexus's router.Authorizer.
func (a prefixAuthorizer) Authorize(_ *wamp.Session, msg wamp.Message) (bool, error) {
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
