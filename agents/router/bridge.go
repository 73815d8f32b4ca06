package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	nxclient "github.com/gammazero/nexus/v3/client"
	"github.com/gammazero/nexus/v3/wamp"

	"github.com/ocsflux/ocsflux/agents/router/wampjson"
)

// crossbarFailureText is crossbar's reply text when a call fails for a
// reason that is not a WAMP error.
const crossbarFailureText = "Sorry, Crossbar.io has encountered a problem."

// errRuntimeError is the error URI of crossbar's failure reply.
const errRuntimeError = wamp.URI("wamp.error.runtime_error")

// bridge is the HTTP caller bridge: crossbar's "caller" web service, which
// OCS's OCSClient (ocs/client_http.py) uses instead of a WebSocket. Each
// request becomes one WAMP call through an in-process session; the call has
// no timeout and is cancelled only when the HTTP client goes away or the
// router shuts down.
//
// Web pages: a request with an Origin header not in Config.AllowOrigins is
// refused (403) before anything else; an allowed origin gets
// Access-Control-Allow-Origin, never Access-Control-Allow-Credentials. A
// request that declares a Content-Type must declare application/json (415
// otherwise); one without Content-Type is read as JSON only when it has no
// Origin header, since OCS's client_http.py (requests.post(url,
// data=json.dumps(...))) and ocsflux's client send none.
//
// Slow clients: a body must arrive within bodyTimeout (408 otherwise), and
// at most cap(bodies) bodies are read at once (503 beyond).
type bridge struct {
	caller      *nxclient.Client
	auth        prefixAuthorizer
	origins     *originPolicy
	maxBody     int64
	bodyTimeout time.Duration // <= 0: none
	bodies      chan struct{} // slots for bodies being read; nil: no limit
	logger      *slog.Logger
	stopping    context.Context // done when the router begins shutting down
}

// newBridge makes the bridge of cfg (with defaults applied).
func newBridge(caller *nxclient.Client, origins *originPolicy, cfg Config, logger *slog.Logger, stopping context.Context) *bridge {
	b := &bridge{
		caller:      caller,
		auth:        prefixAuthorizer{prefix: cfg.AddressRoot + "."},
		origins:     origins,
		maxBody:     cfg.MaxMessageSize,
		bodyTimeout: cfg.CallBodyTimeout,
		logger:      logger,
		stopping:    stopping,
	}
	if cfg.MaxCallBodies > 0 {
		b.bodies = make(chan struct{}, cfg.MaxCallBodies)
	}
	return b
}

// writeJSON writes status and v (with Python's JSON number spelling).
func (b *bridge) writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := wampjson.Marshal(v)
	if err != nil {
		b.logger.Error("encode bridge reply", "err", err)
		status = http.StatusInternalServerError
		body, _ = wampjson.Marshal(errorBody(errRuntimeError, []any{crossbarFailureText}, nil))
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// errorBody is the bridge's error reply; both args and kwargs are always
// present, as OCS's client reads them unconditionally.
func errorBody(uri wamp.URI, args []any, kwargs map[string]any) map[string]any {
	if args == nil {
		args = []any{}
	}
	if kwargs == nil {
		kwargs = map[string]any{}
	}
	return map[string]any{"error": string(uri), "args": args, "kwargs": kwargs}
}

// deny is a request-validation failure. It closes the connection after
// the reply, so that net/http does not wait to read (and discard) a body
// the bridge has not read, without a deadline.
func (b *bridge) deny(w http.ResponseWriter, status int, format string, args ...any) {
	w.Header().Set("Connection", "close")
	text := fmt.Sprintf(format, args...)
	b.logger.Debug("bridge request refused", "status", status, "reason", text)
	b.writeJSON(w, status, map[string]any{"error": text, "args": []any{}, "kwargs": map[string]any{}})
}

// bridgeMethods are the methods the bridge answers (PUT as crossbar's).
const bridgeMethods = "POST,PUT,OPTIONS"

// corsMaxAge is how long (seconds) a browser may cache a preflight reply.
const corsMaxAge = "600"

func (b *bridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Origin")
	origin, ok := b.origins.check(r)
	if !ok {
		b.origins.refused(r, origin)
		b.deny(w, http.StatusForbidden, "%s", originRefusal(origin))
		return
	}
	if origin != "" {
		// An allowed web page may read the reply. No credentials: the
		// bridge has no cookies or HTTP authentication of its own.
		w.Header().Set("Access-Control-Allow-Origin", origin)
	}
	switch r.Method {
	case http.MethodPost, http.MethodPut:
	case http.MethodOptions:
		w.Header().Set("Allow", bridgeMethods)
		if origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
			// CORS preflight of an allowed origin.
			w.Header().Set("Access-Control-Allow-Methods", "POST")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
			w.Header().Set("Access-Control-Max-Age", corsMaxAge)
		}
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", bridgeMethods)
		b.deny(w, http.StatusMethodNotAllowed, "HTTP method %s not allowed (use POST or PUT)", r.Method)
		return
	}
	if problem := checkContentType(r.Header.Get("Content-Type"), origin != ""); problem != "" {
		b.deny(w, http.StatusUnsupportedMediaType, "%s", problem)
		return
	}
	body, status, problem := b.readBody(w, r)
	if problem != "" {
		b.deny(w, status, "%s", problem)
		return
	}
	if !utf8.Valid(body) {
		b.deny(w, http.StatusBadRequest, "request body is not valid UTF-8")
		return
	}
	procedure, args, kwargs, problem := parseCallRequest(body)
	if problem != "" {
		b.deny(w, http.StatusBadRequest, "%s", problem)
		return
	}
	if !b.auth.allowed(procedure) {
		b.writeJSON(w, http.StatusOK, errorBody(wamp.ErrNotAuthorized,
			[]any{fmt.Sprintf("session is not authorized to call procedure '%s'", procedure)}, nil))
		return
	}
	b.call(w, r, procedure, args, kwargs)
}

// checkContentType returns why a request's Content-Type header ct is
// refused (HTTP 415), or "". A missing header is accepted only from a
// client that is not a web page (fromPage false): OCS's client_http.py
// sends none.
func checkContentType(ct string, fromPage bool) string {
	if ct == "" {
		if fromPage {
			return "missing Content-Type, must be application/json"
		}
		return ""
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Sprintf("bad Content-Type %q, must be application/json: %v", ct, err)
	}
	if mediaType != "application/json" {
		return fmt.Sprintf("bad or missing content type, must be one of ['application/json'], was %q", mediaType)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return fmt.Sprintf("'charset' in Content-Type must be utf-8 (application/json; charset=utf-8), was %q", cs)
	}
	return ""
}

// readBody reads the request body within the bridge's limits: at most
// maxBody bytes (413), within bodyTimeout (408), and only when one of the
// slots for bodies being read is free (503 at once otherwise). problem is
// non-empty when the request is refused with status.
func (b *bridge) readBody(w http.ResponseWriter, r *http.Request) (body []byte, status int, problem string) {
	if r.ContentLength > b.maxBody {
		return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", b.maxBody)
	}
	if b.bodies != nil {
		select {
		case b.bodies <- struct{}{}:
			defer func() { <-b.bodies }()
		default:
			w.Header().Set("Retry-After", "1")
			return nil, http.StatusServiceUnavailable,
				fmt.Sprintf("too many request bodies being received (%d); try again", cap(b.bodies))
		}
	}
	rc := http.NewResponseController(w)
	timed := b.bodyTimeout > 0 && r.ContentLength != 0 // -1: unknown (chunked)
	if timed {
		if err := rc.SetReadDeadline(time.Now().Add(b.bodyTimeout)); err != nil {
			b.logger.Debug("set the bridge's body read deadline", "err", err)
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, b.maxBody))
	if timed && err == nil {
		// The deadline must not outlive the body: once the body is read,
		// net/http reads the connection in the background to notice a
		// client that goes away, and the deadline expiring there would
		// cancel the call. (Server.ReadTimeout would do just that, which
		// is why the router does not set it.) After a failed read it stays:
		// nothing more is read from that connection.
		_ = rc.SetReadDeadline(time.Time{})
		if r.Context().Err() != nil {
			// It expired just after the last byte.
			return nil, http.StatusRequestTimeout, fmt.Sprintf("request body not received within %s", b.bodyTimeout)
		}
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		var netErr net.Error
		switch {
		case errors.As(err, &tooBig):
			return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", b.maxBody)
		case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
			return nil, http.StatusRequestTimeout, fmt.Sprintf("request body not received within %s", b.bodyTimeout)
		}
		return nil, http.StatusBadRequest, fmt.Sprintf("could not read request body: %v", err)
	}
	return body, 0, ""
}

// parseCallRequest decodes {"procedure": p, "args": [...], "kwargs": {...}}.
// problem is non-empty when the request must be refused with HTTP 400.
func parseCallRequest(body []byte) (procedure wamp.URI, args wamp.List, kwargs wamp.Dict, problem string) {
	v, err := wampjson.Unmarshal(body)
	if err != nil {
		return "", nil, nil, fmt.Sprintf("request body must be valid JSON: %v", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return "", nil, nil, "request body must be a JSON object"
	}
	p, ok := obj["procedure"]
	if !ok {
		return "", nil, nil, "missing mandatory attribute 'procedure'"
	}
	ps, ok := p.(string)
	if !ok || ps == "" {
		return "", nil, nil, "attribute 'procedure' must be a non-empty string"
	}
	switch a := obj["args"].(type) {
	case nil:
	case []any:
		if len(a) > 0 {
			args = a
		}
	default:
		return "", nil, nil, "attribute 'args' must be a list"
	}
	switch k := obj["kwargs"].(type) {
	case nil:
	case map[string]any:
		if len(k) > 0 {
			kwargs = k
		}
	default:
		return "", nil, nil, "attribute 'kwargs' must be an object"
	}
	return wamp.URI(ps), args, kwargs, ""
}

func (b *bridge) call(w http.ResponseWriter, r *http.Request, procedure wamp.URI, args wamp.List, kwargs wamp.Dict) {
	start := time.Now()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(b.stopping, cancel)()
	res, err := b.caller.Call(ctx, string(procedure), nil, args, kwargs, nil)
	log := b.logger.With("procedure", string(procedure), "duration", time.Since(start))
	var rpcErr nxclient.RPCError
	switch {
	case err == nil:
		log.Debug("bridge call succeeded")
		b.writeJSON(w, http.StatusOK, resultBody(res))
	case errors.As(err, &rpcErr):
		werr := rpcErr.Err
		eargs := []any(werr.Arguments)
		if werr.Error == wamp.ErrNoSuchProcedure && len(eargs) == 0 {
			eargs = []any{noCalleeText(procedure)}
		}
		log.Debug("bridge call returned a WAMP error", "error", string(werr.Error))
		b.writeJSON(w, http.StatusOK, errorBody(werr.Error, eargs, werr.ArgumentsKw))
	case r.Context().Err() != nil:
		log.Debug("bridge client went away; call cancelled")
	default:
		log.Warn("bridge call failed", "err", err)
		b.writeJSON(w, http.StatusInternalServerError, errorBody(errRuntimeError, []any{crossbarFailureText}, nil))
	}
}

// resultBody shapes a RESULT the way crossbar's caller does (through
// autobahn's call semantics): one positional result and no keyword results
// give {"args": [result]}; no results give {"args": [null]}; otherwise
// "args" and "kwargs" appear as yielded, each only when non-empty.
func resultBody(res *wamp.Result) map[string]any {
	args, kwargs := res.Arguments, res.ArgumentsKw
	switch {
	case len(kwargs) == 0 && len(args) == 1:
		return map[string]any{"args": []any{args[0]}}
	case len(kwargs) == 0 && len(args) == 0:
		return map[string]any{"args": []any{nil}}
	}
	body := map[string]any{}
	if len(args) > 0 {
		body["args"] = []any(args)
	}
	if len(kwargs) > 0 {
		body["kwargs"] = map[string]any(kwargs)
	}
	return body
}
