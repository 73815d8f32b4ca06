package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
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
type bridge struct {
	caller   *nxclient.Client
	auth     prefixAuthorizer
	maxBody  int64
	logger   *slog.Logger
	stopping context.Context // done when the router begins shutting down
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

// deny is a request-validation failure.
func (b *bridge) deny(w http.ResponseWriter, status int, format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	b.logger.Debug("bridge request refused", "status", status, "reason", text)
	b.writeJSON(w, status, map[string]any{"error": text, "args": []any{}, "kwargs": map[string]any{}})
}

// setCORS mirrors crossbar's cross-origin headers.
func setCORS(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		origin = "*"
	}
	w.Header().Set("Access-Control-Allow-Origin", origin)
	w.Header().Set("Access-Control-Allow-Credentials", "true")
	if h := r.Header.Get("Access-Control-Request-Headers"); h != "" {
		w.Header().Set("Access-Control-Allow-Headers", h)
	}
}

func (b *bridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setCORS(w, r)
	switch r.Method {
	case http.MethodPost, http.MethodPut:
	case http.MethodOptions:
		w.Header().Set("Allow", "POST,PUT,OPTIONS")
		w.WriteHeader(http.StatusOK)
		return
	default:
		w.Header().Set("Allow", "POST,PUT,OPTIONS")
		b.deny(w, http.StatusMethodNotAllowed, "HTTP method %s not allowed (use POST or PUT)", r.Method)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mediaType, params, err := mime.ParseMediaType(ct)
		if err != nil {
			b.deny(w, http.StatusBadRequest, "bad Content-Type %q: %v", ct, err)
			return
		}
		if mediaType != "application/json" {
			b.deny(w, http.StatusBadRequest, "bad or missing content type, must be one of ['application/json'], was %q", mediaType)
			return
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
			b.deny(w, http.StatusBadRequest, "'charset' in Content-Type must be utf-8, was %q", cs)
			return
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, b.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			b.deny(w, http.StatusRequestEntityTooLarge, "request body larger than %d bytes", b.maxBody)
			return
		}
		b.deny(w, http.StatusBadRequest, "could not read request body: %v", err)
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
