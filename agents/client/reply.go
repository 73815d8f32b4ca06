package client

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/ocsflux/ocsflux/agents/router/wampjson"
)

// Status is the first element of an .ops reply (ocs.base.ResponseCode).
type Status int

// The reply statuses.
const (
	OK      Status = 0
	ERROR   Status = -1
	TIMEOUT Status = 1
)

// String returns OK, ERROR, TIMEOUT, or ??? for anything else (as OCSReply
// prints it).
func (s Status) String() string {
	switch s {
	case OK:
		return "OK"
	case ERROR:
		return "ERROR"
	case TIMEOUT:
		return "TIMEOUT"
	}
	return "???"
}

// Reply is an .ops reply, [status, message, session], OCS's OCSReply.
type Reply struct {
	Status  Status
	Message string
	// Session is the encoded OpSession (session_id, op_name, op_code,
	// status, success, start_time, end_time, data, messages, ...), or an
	// empty map when the op has no session.
	Session map[string]any
}

// ReplyFromResult checks and converts the decoded result of an .ops call.
func ReplyFromResult(v any) (Reply, error) {
	l, ok := normalize(v).([]any)
	if !ok || len(l) != 3 {
		return Reply{}, fmt.Errorf("ops reply is not a 3-element list: %s", short(v))
	}
	code, ok := l[0].(int64)
	if !ok || code < math.MinInt32 || code > math.MaxInt32 {
		return Reply{}, fmt.Errorf("ops reply status %s is not an integer", short(l[0]))
	}
	msg, ok := l[1].(string)
	if !ok {
		return Reply{}, fmt.Errorf("ops reply message %s is not a string", short(l[1]))
	}
	sess := map[string]any{}
	switch s := l[2].(type) {
	case map[string]any:
		sess = s
	case nil:
	default:
		return Reply{}, fmt.Errorf("ops reply session %s is not an object", short(l[2]))
	}
	return Reply{Status: Status(code), Message: msg, Session: sess}, nil
}

// Map returns the reply as {"status", "msg", "session"}, the layout of
// OCS's reference captures, for JSON output.
func (r Reply) Map() map[string]any {
	sess := r.Session
	if sess == nil {
		sess = map[string]any{}
	}
	return map[string]any{"status": int64(r.Status), "msg": r.Message, "session": sess}
}

// sessionKeyOrder is the order in which OCS encodes a session's keys.
func sessionKeyOrder() []string {
	return []string{"session_id", "op_name", "op_code", "cred_level", "status",
		"degraded", "success", "start_time", "end_time", "data", "messages"}
}

// maxShownMessages is how many of the latest session messages Format shows.
const maxShownMessages = 5

// String formats the reply as of now; see Format.
func (r Reply) String() string { return r.Format(time.Now()) }

// Format prints the reply as OCS's OCSReply does, with now as the current
// time:
//
//	OCSReply: OK : Session active.
//	  record[session=1]; status=running for 14.0 s
//	  messages (2 of 2):
//	    1795294567.946 Status is now "starting".
//	    1795294567.947 Status is now "running".
//	  data: {"connected":true,"last_updated":1795294581.9686928}
//	  other keys in .session: op_code=3, cred_level=1, degraded=false
//
// Unlike OCSReply it shows only the latest five messages (OCSReply says
// "5 of N" but prints them all), and it prints data and the other keys'
// values. There is no trailing newline.
func (r Reply) Format(now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "OCSReply: %s : %s\n", r.Status, r.Message)
	s := r.Session
	if len(s) == 0 {
		b.WriteString("  (no session -- op has never run)")
		return b.String()
	}
	if err := formatSession(&b, s, now); err != nil {
		enc, _ := wampjson.Marshal(s)
		return fmt.Sprintf("OCSReply: %s : %s\n  [session decode failed: %v]\n  session: %s", r.Status, r.Message, err, enc)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func formatSession(b *strings.Builder, s map[string]any, now time.Time) error {
	status, ok := s["status"].(string)
	if !ok {
		return fmt.Errorf("status %s is not a string", short(s["status"]))
	}
	opName, _ := s["op_name"].(string)
	sessionID, ok := s["session_id"].(int64)
	if !ok {
		return fmt.Errorf("session_id %s is not an integer", short(s["session_id"]))
	}
	nowF := float64(now.UnixNano()) / 1e9
	run := "status=" + status
	switch status {
	case "starting", "running":
		start, ok := number(s["start_time"])
		if !ok {
			return fmt.Errorf("start_time %s is not a number", short(s["start_time"]))
		}
		run += " for " + humanizedTime(nowF-start)
	case "done":
		start, ok1 := number(s["start_time"])
		end, ok2 := number(s["end_time"])
		if !ok1 || !ok2 {
			return fmt.Errorf("start_time %s or end_time %s is not a number", short(s["start_time"]), short(s["end_time"]))
		}
		if success, _ := s["success"].(bool); success {
			run += " without error"
		} else {
			run += " with ERROR"
		}
		run += " " + humanizedTime(nowF-end) + " ago, took " + humanizedTime(end-start)
	}
	fmt.Fprintf(b, "  %s[session=%d]; %s\n", opName, sessionID, run)

	messages, _ := s["messages"].([]any)
	if len(messages) > 0 {
		shown := messages[max(0, len(messages)-maxShownMessages):]
		fmt.Fprintf(b, "  messages (%d of %d):\n", len(shown), len(messages))
		for _, m := range shown {
			pair, ok := m.([]any)
			if !ok || len(pair) != 2 {
				return fmt.Errorf("message %s is not a [time, text] pair", short(m))
			}
			t, ok := number(pair[0])
			if !ok {
				return fmt.Errorf("message time %s is not a number", short(pair[0]))
			}
			text, ok := pair[1].(string)
			if !ok {
				text = short(pair[1])
			}
			fmt.Fprintf(b, "    %.3f %s\n", t, text)
		}
	}
	if data, ok := s["data"]; ok {
		if m, isMap := data.(map[string]any); !isMap || len(m) > 0 {
			fmt.Fprintf(b, "  data: %s\n", short(data))
		}
	}
	handled := map[string]bool{"op_name": true, "session_id": true, "status": true, "start_time": true,
		"end_time": true, "messages": true, "success": true, "data": true}
	order := sessionKeyOrder()
	var others []string
	for _, k := range order {
		if _, ok := s[k]; ok && !handled[k] {
			others = append(others, k+"="+short(s[k]))
		}
	}
	var extra []string
	for k := range s {
		if !handled[k] && !slices.Contains(order, k) {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	for _, k := range extra {
		others = append(others, k+"="+short(s[k]))
	}
	if len(others) > 0 {
		fmt.Fprintf(b, "  other keys in .session: %s\n", strings.Join(others, ", "))
	}
	return nil
}

// humanizedTime is OCS's _humanized_time.
func humanizedTime(t float64) string {
	a := math.Abs(t)
	switch {
	case a < 1:
		return fmt.Sprintf("%.6f s", t)
	case a < 120:
		return fmt.Sprintf("%.1f s", t)
	case a < 120*60:
		return fmt.Sprintf("%.1f mins", t/60)
	case a < 48*3600:
		return fmt.Sprintf("%.1f hrs", t/3600)
	}
	return fmt.Sprintf("%.1f days", t/86400)
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// short is compact JSON for messages.
func short(v any) string {
	enc, err := wampjson.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(enc)
}
