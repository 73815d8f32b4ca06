package router_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	nxclient "github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/transport/serialize"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents/router"
)

// TestNotAuthorizedOutsideAddressRoot: crossbar's OCS role rule. A
// WebSocket session may register, call, publish and subscribe only under
// "<address_root>."; outside it gets wamp.error.not_authorized.
func TestNotAuthorizedOutsideAddressRoot(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{AddressRoot: "site1"})
	for _, s := range serializations {
		c := connect(t, r, s.s)
		notAuth := string(wamp.ErrNotAuthorized)

		if err := c.Register("observatory.agent.ops", noop, nil); err == nil || !strings.Contains(err.Error(), notAuth) {
			t.Errorf("%s: register outside root: %v, want %s", s.name, err, notAuth)
		}
		// "site10.x" is not under "site1.".
		if err := c.Register("site10.agent.ops", noop, nil); err == nil || !strings.Contains(err.Error(), notAuth) {
			t.Errorf("%s: register under a longer root: %v, want %s", s.name, err, notAuth)
		}
		if err := c.Subscribe("observatory..feeds.", func(*wamp.Event) {}, wamp.Dict{"match": "wildcard"}); err == nil || !strings.Contains(err.Error(), notAuth) {
			t.Errorf("%s: subscribe outside root: %v, want %s", s.name, err, notAuth)
		}
		_, err := c.Call(context.Background(), "observatory.agent", nil, wamp.List{"get_api"}, nil, nil)
		var rpcErr nxclient.RPCError
		if !errors.As(err, &rpcErr) || rpcErr.Err.Error != wamp.ErrNotAuthorized {
			t.Errorf("%s: call outside root: %v, want %s", s.name, err, notAuth)
		}
		if err := c.Publish("observatory.agent.feeds.x", wamp.Dict{"acknowledge": true}, nil, nil); err == nil || !strings.Contains(err.Error(), notAuth) {
			t.Errorf("%s: acknowledged publish outside root: %v, want %s", s.name, err, notAuth)
		}

		// Inside the root everything works.
		proc := "site1." + s.name + ".ops"
		register(t, c, proc, noop)
		if err := c.Subscribe("site1..feeds.", func(*wamp.Event) {}, wamp.Dict{"match": "wildcard"}); err != nil {
			t.Errorf("%s: subscribe inside root: %v", s.name, err)
		}
		if err := c.Publish("site1.agent.feeds.x", wamp.Dict{"acknowledge": true}, nil, nil); err != nil {
			t.Errorf("%s: publish inside root: %v", s.name, err)
		}
		if _, err := c.Call(context.Background(), proc, nil, nil, nil, nil); err != nil {
			t.Errorf("%s: call inside root: %v", s.name, err)
		}
	}

	// The exact reply to a hand-written JSON client.
	raw := joinRaw(t, r)
	raw.send(`[64,1,{},"observatory.agent.ops"]`)
	if got := raw.recv(); got != `[8,64,1,{},"wamp.error.not_authorized"]` {
		t.Errorf("REGISTER outside root: %s", got)
	}
}

// TestLocalSessionsAreTrusted: in-process sessions skip the rule.
func TestLocalSessionsAreTrusted(t *testing.T) {
	t.Parallel()
	r := startRouter(t, router.Config{})
	local := connectLocal(t, r)
	register(t, local, "elsewhere.proc", noop)
	remote := connect(t, r, serialize.MSGPACK)
	if _, err := remote.Call(context.Background(), "elsewhere.proc", nil, nil, nil, nil); err == nil {
		t.Error("remote call outside the root succeeded")
	}
	if _, err := local.Call(context.Background(), "elsewhere.proc", nil, nil, nil, nil); err != nil {
		t.Errorf("local call: %v", err)
	}
}
