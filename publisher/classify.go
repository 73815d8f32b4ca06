package publisher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/influxdata/influxdb1-client/models"
)

// Action is what to do with a batch after InfluxDB's reply.
type Action uint8

const (
	// ActionOK: the batch is stored.
	ActionOK Action = iota
	// ActionRetry: nothing was stored and trying again later may work
	// (HTTP 5xx, 429, an unexpected 4xx, a network error or timeout):
	// keep the batch, back off (honouring RetryAfter), resend.
	ActionRetry
	// ActionAuth: HTTP 401 or 403. Keep the batch and retry with backoff;
	// the publisher is degraded with "authentication failed" until a write
	// succeeds (credentials or permissions may be fixed in InfluxDB).
	ActionAuth
	// ActionCreateDatabase: the database does not exist (it was dropped
	// while running): create it, then resend.
	ActionCreateDatabase
	// ActionDropped: InfluxDB stored the good lines and refused the others
	// for good ("partial write", "field type conflict", "unable to
	// parse", points beyond the retention policy). Resending cannot help:
	// count Dropped points as rejected and report the names.
	ActionDropped
	// ActionSplit: HTTP 413, the body is too large: split the batch in two
	// and send the halves.
	ActionSplit
	// ActionRefused: a 4xx whose meaning is not known (a body the server
	// cannot read, a parameter it does not support, a point it refuses
	// with an unrecognised message). The request is tried refusedTries
	// times; then the lines are bisected to find those the server refuses,
	// which are dead-lettered with the status and message, and the others
	// are written.
	ActionRefused
)

var actionNames = [...]string{"ok", "retry", "auth", "create database", "dropped", "split", "refused"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Reply is what one HTTP request to InfluxDB returned: a status, headers
// and (the start of) the body, or a transport error.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
	Err    error
}

// Outcome is the classification of a Reply.
type Outcome struct {
	Action Action
	// Status is the HTTP status, 0 when there was no reply.
	Status int
	// Message is InfluxDB's error text (X-InfluxDB-Error header, the
	// "error" or "message" of a JSON body, or the body) or the transport
	// error; empty for ActionOK.
	Message string
	// RetryAfter is the server's Retry-After, 0 if none.
	RetryAfter time.Duration
	// Dropped is the number of points InfluxDB refused (ActionDropped):
	// its "dropped=N" plus the lines it could not parse.
	Dropped int
	// Rejects names what InfluxDB refused, as far as its message says
	// (measurement and field of a type conflict, the measurement and feed
	// of each line it could not parse).
	Rejects []Reject
}

// Classify decides, for every InfluxDB reply, whether the batch is done,
// must be retried, split, or needs the database created. It is the only
// place that interprets replies. now is used for an HTTP-date Retry-After.
func Classify(r Reply, now time.Time) Outcome {
	if r.Err != nil {
		msg := r.Err.Error()
		switch {
		case errors.Is(r.Err, context.DeadlineExceeded):
			msg = "timeout: " + msg
		case errors.Is(r.Err, context.Canceled):
			msg = "cancelled: " + msg
		}
		return Outcome{Action: ActionRetry, Message: msg}
	}
	o := Outcome{Status: r.Status}
	if r.Status >= 200 && r.Status < 300 {
		o.Action = ActionOK
		return o
	}
	o.Message = replyMessage(r)
	o.RetryAfter = retryAfter(r.Header.Get("Retry-After"), now)
	lower := strings.ToLower(o.Message)
	switch {
	case r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden:
		o.Action = ActionAuth
	case r.Status == http.StatusRequestEntityTooLarge:
		o.Action = ActionSplit
	case strings.Contains(lower, "database not found") ||
		r.Status == http.StatusNotFound && strings.Contains(lower, "bucket") && strings.Contains(lower, "not found"):
		o.Action = ActionCreateDatabase
	case r.Status >= 400 && r.Status < 500 && (strings.Contains(lower, "partial write") ||
		strings.Contains(lower, "field type conflict") ||
		strings.Contains(lower, "unable to parse") ||
		strings.Contains(lower, "points beyond retention policy")):
		o.Action = ActionDropped
		o.Dropped, o.Rejects = parseDropped(o.Message)
	case r.Status >= 400 && r.Status < 500 && r.Status != http.StatusRequestTimeout &&
		r.Status != http.StatusTooManyRequests && r.Status != http.StatusNotFound:
		o.Action = ActionRefused
	default:
		// 5xx, 429, 408, 404 (a path a proxy does not route yet), and
		// anything else: keep the data and retry.
		o.Action = ActionRetry
	}
	return o
}

// ClassifyWrite is Classify for the reply to a write: only 204 No Content
// means the points are stored (InfluxDB 1.x /write, 2.x /api/v2/write,
// InfluxDB 3's compatibility endpoints and VictoriaMetrics all answer a
// stored write so). Any other 2xx, such as a proxy's or a login portal's
// 200 page, is a failure to retry, named with its status and the start of
// its body.
func ClassifyWrite(r Reply, now time.Time) Outcome {
	if r.Err == nil && r.Status >= 200 && r.Status < 300 && r.Status != http.StatusNoContent {
		return Outcome{Action: ActionRetry, Status: r.Status,
			Message: fmt.Sprintf("unexpected reply to a write, not 204 No Content: %q", snippet(r.Body))}
	}
	return Classify(r, now)
}

// snippet is the start of a reply body, for messages.
func snippet(b []byte) string {
	const n = 200
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

// Err returns nil for ActionOK and a *WriteError otherwise.
func (o Outcome) Err() error {
	if o.Action == ActionOK {
		return nil
	}
	return &WriteError{Outcome: o}
}

// Reason is the text shown as the degraded reason while the outcome lasts.
func (o Outcome) Reason() string {
	switch {
	case o.Action == ActionOK:
		return ""
	case o.Action == ActionAuth:
		return fmt.Sprintf("authentication failed (HTTP %d): %s", o.Status, o.Message)
	case o.Status == 0:
		return "InfluxDB unreachable: " + o.Message
	case o.Action == ActionRefused:
		return fmt.Sprintf("InfluxDB refused a request (HTTP %d): %s", o.Status, o.Message)
	case o.Action == ActionCreateDatabase:
		return fmt.Sprintf("database not found (HTTP %d): %s", o.Status, o.Message)
	}
	return fmt.Sprintf("InfluxDB error (HTTP %d): %s", o.Status, o.Message)
}

// WriteError is a failed request to InfluxDB; errors.As gives the Outcome
// (Action, Status, RetryAfter) to callers that must branch on it.
type WriteError struct {
	Outcome
}

func (e *WriteError) Error() string { return e.Reason() }

// Retryable reports whether the same request may succeed later.
func (e *WriteError) Retryable() bool {
	return e.Action == ActionRetry || e.Action == ActionAuth || e.Action == ActionCreateDatabase
}

// maxMessage bounds the error text kept from a reply.
const maxMessage = 4096

// replyMessage extracts InfluxDB's error text: the X-InfluxDB-Error header
// (1.x), else {"error": ...} (1.x) or {"message": ...} (2.x/3.x), else the
// body as text.
func replyMessage(r Reply) string {
	msg := r.Header.Get("X-Influxdb-Error")
	if msg == "" {
		var j struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		if json.Unmarshal(r.Body, &j) == nil {
			msg = j.Error
			if msg == "" {
				msg = j.Message
			}
		}
	}
	if msg == "" {
		msg = strings.TrimSpace(string(r.Body))
	}
	if msg == "" {
		msg = http.StatusText(r.Status)
	}
	if len(msg) > maxMessage {
		msg = msg[:maxMessage] + "..."
	}
	return msg
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.ParseInt(h, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		if s > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		d := t.Sub(now)
		if d < 0 {
			return 0
		}
		return min(d, MaxRetryAfter)
	}
	return 0
}

// parseDropped reads what a "partial write" / "unable to parse" message
// says was refused, e.g.
//
//	partial write: field type conflict: input field "x" on measurement "m" is type integer, already exists as type float dropped=1
//	partial write: unable to parse 'm,feed=f x=': missing field value dropped=0
//	unable to parse 'm,feed=f x=': missing field value
func parseDropped(msg string) (int, []Reject) {
	dropped := 0
	if i := strings.LastIndex(msg, "dropped="); i >= 0 {
		j := i + len("dropped=")
		k := j
		for k < len(msg) && msg[k] >= '0' && msg[k] <= '9' {
			k++
		}
		dropped, _ = strconv.Atoi(msg[j:k])
	}

	var rejects []Reject
	if dropped > 0 {
		r := Reject{Reason: ReasonServerDropped, Count: uint64(dropped)}
		if strings.Contains(msg, "field type conflict") {
			r.Reason = ReasonTypeConflict
		}
		// "field type conflict: input field ..." and "invalid field name:
		// input field ..." name the first offending field.
		r.Agent, r.Field, _ = inputFieldNames(msg)
		rejects = append(rejects, r)
	}

	const unparsable = "unable to parse '"
	for rest := msg; ; {
		i := strings.Index(rest, unparsable)
		if i < 0 {
			break
		}
		rest = rest[i+len(unparsable):]
		line := rest
		if j := strings.Index(rest, "': "); j >= 0 {
			line = rest[:j]
		}
		name, tags := models.ParseKey([]byte(seriesKey(line)))
		rejects = append(rejects, Reject{Reason: ReasonUnparsable, Agent: name,
			Feed: tags.GetString("feed"), Count: 1})
		dropped++
	}
	return dropped, rejects
}

// inputFieldNames extracts measurement and field from InfluxDB's
// `input field "x" on measurement "m" ...` (Go-quoted names).
func inputFieldNames(msg string) (measurement, field string, ok bool) {
	const fieldP, measP = `input field `, ` on measurement `
	i := strings.Index(msg, fieldP)
	if i < 0 {
		return "", "", false
	}
	rest := msg[i+len(fieldP):]
	qf, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return "", "", false
	}
	rest = rest[len(qf):]
	if !strings.HasPrefix(rest, measP) {
		return "", "", false
	}
	rest = rest[len(measP):]
	qm, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return "", "", false
	}
	field, _ = strconv.Unquote(qf)
	measurement, _ = strconv.Unquote(qm)
	return measurement, field, true
}

// seriesKey returns the measurement-and-tags part of a line: up to the
// first space that is not backslash-escaped.
func seriesKey(line string) string {
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case ' ':
			return line[:i]
		}
	}
	return line
}
