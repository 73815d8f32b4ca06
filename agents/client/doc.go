// Package client is ocsflux's counterpart of OCS's OCSClient: it controls
// one agent's operations by calling its management procedure
// (<address_root>.<instance-id>) and its .ops procedure, and decodes the
// replies.
//
// HTTP talks to the router's HTTP caller bridge (hub.wamp_http, e.g.
// http://localhost:8001/call) exactly as OCS's client_http.py does; WAMP
// talks over a WebSocket session (hub.wamp_server) with msgpack. Both send
// the arguments OCSClient sends (start: [start, op, params]; stop, abort,
// status: [action, op, {}]; wait: [wait, op, {}] with keyword timeout) and
// return the same Reply and the same Error values (OCS's
// ControlClientError: client_http.error.connection_error,
// client_http.error.request_error, or the WAMP error's URI, args and
// kwargs).
//
// Reply.Format prints a reply the way OCS's OCSReply does. ParseParams
// turns command-line key=value words into op params.
//
// The package does not read the site config and does not run agents.
package client
