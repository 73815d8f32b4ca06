// Package router is ocsflux's stand-in for the crossbar router of an OCS
// site: an embedded nexus WAMP router with the WebSocket transport and the
// HTTP caller bridge that OCS's programs expect.
//
// It owns, on one TCP listener (127.0.0.1:8001 by default):
//
//   - the WAMP WebSocket endpoint (/ws), speaking wamp.2.json, wamp.2.msgpack
//     and wamp.2.cbor, choosing the first one in the client's offer as
//     crossbar does; JSON follows Python's rules (package wampjson) so ints
//     and floats keep their types between serializers;
//   - one realm (test_realm) with anonymous authentication, loose URI
//     checking, no caller/publisher disclosure, and crossbar's OCS role rule:
//     a WebSocket session may only call, register, publish and subscribe under
//     "<address_root>."; anything else is answered wamp.error.not_authorized;
//   - the crossbar-compatible HTTP caller bridge (/call) that OCSClient uses;
//   - crossbar's readiness page (/info).
//
// Nothing authenticates a client, as with OCS's crossbar, but web pages are
// kept out: a request with an Origin header (which browsers add and OCS's
// Python clients, ocsflux and curl do not) is refused with HTTP 403 on /ws
// and /call unless its origin is in Config.AllowOrigins (empty by default).
// The bridge never allows credentials in CORS, wants a JSON Content-Type
// when it is given (and from web pages), and bounds slow clients: request
// headers within ReadHeaderTimeout, a /call body within CallBodyTimeout,
// at most MaxCallBodies bodies read at once. Calls and WebSocket sessions
// themselves have no time limit.
//
// Events that nexus cannot queue for a slow subscriber are dropped by nexus;
// the router counts them (Stats) and logs them at a bounded rate. The
// per-session outbound queue is OutQueueSize messages (4096 by default,
// nexus's own default is 64).
//
// It does not know about agents, feeds or InfluxDB, and it does not read the
// site config: ConfigFromHub turns the hub's URLs into a Config.
package router
