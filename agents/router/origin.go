package router

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Browsers add an Origin header to every WebSocket handshake and to every
// cross-origin (and same-origin non-GET) request a web page makes. Without
// a check, any page open in a browser on a machine that reaches the router
// (the router's own host above all) could call every agent through /call
// or join the realm through /ws. Non-browser clients (autobahn, OCS's
// client_http.py through requests, ocsflux, curl) send no Origin header
// unless told to, so they are not affected by the check.

// NormalizeOrigin returns origin as a browser serializes it in the Origin
// header: "scheme://host[:port]" with scheme and host in lower case and the
// scheme's default port (80 for http and ws, 443 for https and wss) left
// out. A trailing "/" is accepted. "*", "null", and anything with a user,
// a path, a query or a fragment are errors.
func NormalizeOrigin(origin string) (string, error) {
	switch strings.TrimSpace(origin) {
	case "*":
		return "", errors.New(`"*" (every origin) is not supported: list each web page's origin`)
	case "null":
		return "", errors.New(`"null" is the origin of sandboxed and file:// pages of any site; serve the page from a web server and list its origin`)
	}
	u, err := url.Parse(origin)
	if err != nil {
		return "", err
	}
	switch {
	case u.Scheme == "" || u.Opaque != "" || u.Host == "":
		return "", errors.New("want scheme://host[:port], e.g. https://ocs-web.example")
	case u.User != nil:
		return "", errors.New("an origin has no user")
	case u.Path != "" && u.Path != "/", u.RawQuery != "" || u.ForceQuery, u.Fragment != "":
		return "", errors.New("an origin has no path, query or fragment (want scheme://host[:port])")
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if host == "" {
		return "", errors.New("no host")
	}
	port := u.Port()
	switch {
	case port == "80" && (scheme == "http" || scheme == "ws"),
		port == "443" && (scheme == "https" || scheme == "wss"):
		port = ""
	}
	if port != "" {
		return scheme + "://" + net.JoinHostPort(host, port), nil
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host, nil
}

// originPolicy is the allow-list of Config.AllowOrigins.
type originPolicy struct {
	allowed map[string]struct{} // normalized origins
	logger  *slog.Logger
	warn    *throttle // refusals are logged at Warn at most once per dropLogInterval
}

// newOriginPolicy builds the policy; origins have been validated.
func newOriginPolicy(origins []string, logger *slog.Logger) *originPolicy {
	p := &originPolicy{allowed: map[string]struct{}{}, logger: logger, warn: &throttle{}}
	for _, o := range origins {
		if n, err := NormalizeOrigin(o); err == nil {
			p.allowed[n] = struct{}{}
		}
	}
	return p
}

// check returns the request's Origin header ("" when there is none) and
// whether the request may proceed: it may when it has no Origin header or
// exactly one whose origin is listed.
func (p *originPolicy) check(r *http.Request) (origin string, ok bool) {
	values := r.Header.Values("Origin")
	switch len(values) {
	case 0:
		return "", true
	case 1:
		origin = values[0]
	default:
		return strings.Join(values, ", "), false
	}
	n, err := NormalizeOrigin(origin)
	if err != nil {
		return origin, false
	}
	_, ok = p.allowed[n]
	return origin, ok
}

// allows is check for gorilla's Upgrader.CheckOrigin.
func (p *originPolicy) allows(r *http.Request) bool {
	_, ok := p.check(r)
	return ok
}

// refused logs a refused request: at Warn at most once per
// dropLogInterval (a web page can send many), otherwise at Debug.
func (p *originPolicy) refused(r *http.Request, origin string) {
	level := slog.LevelDebug
	if p.warn.allow(time.Now()) {
		level = slog.LevelWarn
	}
	p.logger.Log(r.Context(), level, "refused a request from a web page whose origin is not allowed (see --allow-origin)",
		"origin", origin, "path", r.URL.Path, "remote", r.RemoteAddr)
}

// originRefusal is the text of the 403 reply.
func originRefusal(origin string) string {
	return fmt.Sprintf("origin %q is not allowed to use this router", origin)
}
