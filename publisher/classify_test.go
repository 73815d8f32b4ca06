package publisher_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/publisher"
)

// influxReply is a reply as InfluxDB 1.x sends it: the error in the JSON
// body and in X-Influxdb-Error. The texts below were taken from influxd
// 1.6's replies.
func influxReply(status int, msg string) publisher.Reply {
	h := http.Header{}
	body := []byte{}
	if msg != "" {
		h.Set("X-Influxdb-Error", msg)
		body = []byte(fmt.Sprintf(`{"error":%q}`, msg))
	}
	return publisher.Reply{Status: status, Header: h, Body: body}
}

func TestClassify(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	typeConflict := `partial write: field type conflict: input field "x" on measurement "m" is type integer, already exists as type float dropped=2`
	cases := []struct {
		name string
		r    publisher.Reply
		want publisher.Outcome
	}{
		{"204", influxReply(204, ""), publisher.Outcome{Action: publisher.ActionOK, Status: 204}},
		{"200", influxReply(200, ""), publisher.Outcome{Action: publisher.ActionOK, Status: 200}},
		{"database not found", influxReply(404, `database not found: "ocs_feeds"`),
			publisher.Outcome{Action: publisher.ActionCreateDatabase, Status: 404, Message: `database not found: "ocs_feeds"`}},
		{"database not found, 2.x style", publisher.Reply{Status: 404, Header: http.Header{},
			Body: []byte(`{"code":"not found","message":"database not found: \"x\""}`)},
			publisher.Outcome{Action: publisher.ActionCreateDatabase, Status: 404, Message: `database not found: "x"`}},
		{"field type conflict", influxReply(400, typeConflict),
			publisher.Outcome{Action: publisher.ActionDropped, Status: 400, Message: typeConflict, Dropped: 2,
				Rejects: []publisher.Reject{{Reason: publisher.ReasonTypeConflict, Agent: "m", Field: "x", Count: 2}}}},
		{"field type conflict, 2.x 422", publisher.Reply{Status: 422, Header: http.Header{},
			Body: []byte(`{"code":"unprocessable entity","message":"failure writing points to database: partial write: field type conflict: input field \"v\" on measurement \"obs.a\" is type float, already exists as type integer dropped=1"}`)},
			publisher.Outcome{Action: publisher.ActionDropped, Status: 422,
				Message: `failure writing points to database: partial write: field type conflict: input field "v" on measurement "obs.a" is type float, already exists as type integer dropped=1`,
				Dropped: 1, Rejects: []publisher.Reject{{Reason: publisher.ReasonTypeConflict, Agent: "obs.a", Field: "v", Count: 1}}}},
		{"invalid field name", influxReply(400, `partial write: invalid field name: input field "time" on measurement "m" is invalid dropped=1`),
			publisher.Outcome{Action: publisher.ActionDropped, Status: 400,
				Message: `partial write: invalid field name: input field "time" on measurement "m" is invalid dropped=1`, Dropped: 1,
				Rejects: []publisher.Reject{{Reason: publisher.ReasonServerDropped, Agent: "m", Field: "time", Count: 1}}}},
		{"unable to parse, nothing stored", influxReply(400, `unable to parse 'm,feed=f x= 2': missing field value`),
			publisher.Outcome{Action: publisher.ActionDropped, Status: 400, Message: `unable to parse 'm,feed=f x= 2': missing field value`,
				Dropped: 1, Rejects: []publisher.Reject{{Reason: publisher.ReasonUnparsable, Agent: "m", Feed: "f", Count: 1}}}},
		{"unable to parse, partial", influxReply(400, "partial write: unable to parse 'a\\ b,feed=f x= 2': missing field value\nunable to parse 'c,feed=g y=': missing field value dropped=0"),
			publisher.Outcome{Action: publisher.ActionDropped, Status: 400,
				Message: "partial write: unable to parse 'a\\ b,feed=f x= 2': missing field value\nunable to parse 'c,feed=g y=': missing field value dropped=0",
				Dropped: 2, Rejects: []publisher.Reject{
					{Reason: publisher.ReasonUnparsable, Agent: "a b", Feed: "f", Count: 1},
					{Reason: publisher.ReasonUnparsable, Agent: "c", Feed: "g", Count: 1}}}},
		{"beyond retention policy", influxReply(400, "partial write: points beyond retention policy dropped=3"),
			publisher.Outcome{Action: publisher.ActionDropped, Status: 400, Message: "partial write: points beyond retention policy dropped=3",
				Dropped: 3, Rejects: []publisher.Reject{{Reason: publisher.ReasonServerDropped, Count: 3}}}},
		{"401", influxReply(401, "authorization failed"),
			publisher.Outcome{Action: publisher.ActionAuth, Status: 401, Message: "authorization failed"}},
		{"403", influxReply(403, `user "bob" is not authorized to write to database "ocs_feeds"`),
			publisher.Outcome{Action: publisher.ActionAuth, Status: 403, Message: `user "bob" is not authorized to write to database "ocs_feeds"`}},
		{"413", influxReply(413, "http: request body too large"),
			publisher.Outcome{Action: publisher.ActionSplit, Status: 413, Message: "http: request body too large"}},
		{"500 timeout", influxReply(500, "timeout"),
			publisher.Outcome{Action: publisher.ActionRetry, Status: 500, Message: "timeout"}},
		{"500 retention policy not found", influxReply(500, "retention policy not found: nope"),
			publisher.Outcome{Action: publisher.ActionRetry, Status: 500, Message: "retention policy not found: nope"}},
		{"503 with Retry-After seconds", withHeader(influxReply(503, "engine: cache maximum memory size exceeded"), "Retry-After", "7"),
			publisher.Outcome{Action: publisher.ActionRetry, Status: 503, Message: "engine: cache maximum memory size exceeded", RetryAfter: 7 * time.Second}},
		{"429 with Retry-After date", withHeader(publisher.Reply{Status: 429, Header: http.Header{}, Body: []byte("slow down")},
			"Retry-After", now.Add(90*time.Second).Format(http.TimeFormat)),
			publisher.Outcome{Action: publisher.ActionRetry, Status: 429, Message: "slow down", RetryAfter: 90 * time.Second}},
		{"Retry-After capped", withHeader(influxReply(503, "x"), "Retry-After", "86400"),
			publisher.Outcome{Action: publisher.ActionRetry, Status: 503, Message: "x", RetryAfter: publisher.MaxRetryAfter}},
		{"bad Retry-After ignored", withHeader(influxReply(503, "x"), "Retry-After", "soon"),
			publisher.Outcome{Action: publisher.ActionRetry, Status: 503, Message: "x"}},
		{"unknown 400 refused: tried, then bisected", influxReply(400, "something new"),
			publisher.Outcome{Action: publisher.ActionRefused, Status: 400, Message: "something new"}},
		{"empty 502 body", publisher.Reply{Status: 502, Header: http.Header{}},
			publisher.Outcome{Action: publisher.ActionRetry, Status: 502, Message: "Bad Gateway"}},
		{"plain text body", publisher.Reply{Status: 500, Header: http.Header{}, Body: []byte("  proxy error\n")},
			publisher.Outcome{Action: publisher.ActionRetry, Status: 500, Message: "proxy error"}},
		{"connection refused", publisher.Reply{Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}},
			publisher.Outcome{Action: publisher.ActionRetry, Message: "dial tcp: connection refused"}},
		{"timeout", publisher.Reply{Err: fmt.Errorf("post: %w", context.DeadlineExceeded)},
			publisher.Outcome{Action: publisher.ActionRetry, Message: "timeout: post: context deadline exceeded"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := publisher.Classify(c.r, now)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Classify\n got: %+v\nwant: %+v", got, c.want)
			}
			err := got.Err()
			if (err == nil) != (c.want.Action == publisher.ActionOK) {
				t.Errorf("Err() = %v for %v", err, got.Action)
			}
			var we *publisher.WriteError
			if err != nil && (!errors.As(err, &we) || we.Action != c.want.Action) {
				t.Errorf("Err() = %#v, want a *WriteError with action %v", err, c.want.Action)
			}
		})
	}
}

func TestOutcomeReason(t *testing.T) {
	for _, c := range []struct {
		o    publisher.Outcome
		want string
	}{
		{publisher.Outcome{Action: publisher.ActionOK, Status: 204}, ""},
		{publisher.Outcome{Action: publisher.ActionAuth, Status: 401, Message: "authorization failed"},
			"authentication failed (HTTP 401): authorization failed"},
		{publisher.Outcome{Action: publisher.ActionRetry, Message: "dial tcp: connection refused"},
			"InfluxDB unreachable: dial tcp: connection refused"},
		{publisher.Outcome{Action: publisher.ActionRetry, Status: 500, Message: "timeout"},
			"InfluxDB error (HTTP 500): timeout"},
	} {
		if got := c.o.Reason(); got != c.want {
			t.Errorf("Reason() = %q, want %q", got, c.want)
		}
		if c.o.Action != publisher.ActionOK && !strings.Contains(c.o.Err().Error(), c.want) {
			t.Errorf("Err() = %q, want it to say %q", c.o.Err(), c.want)
		}
	}
}

func withHeader(r publisher.Reply, k, v string) publisher.Reply {
	r.Header.Set(k, v)
	return r
}

// TestClassifyWrite: only 204 means a write is stored; any other 2xx (a
// proxy's or a login portal's page, a cut-off reply) is retried, named
// with its status and the start of its body.
func TestClassifyWrite(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	html := publisher.Reply{Status: 200, Header: http.Header{"Content-Type": {"text/html; charset=utf-8"}},
		Body: []byte("<html><head><title>Login</title></head><body>please log in</body></html>")}
	long := publisher.Reply{Status: 200, Header: http.Header{"Content-Type": {"text/html"}},
		Body: []byte("<html>" + strings.Repeat("x", 10000) + "</html>")}
	bucketMissing := publisher.Reply{Status: 404, Header: http.Header{"Content-Type": {"application/json"}},
		Body: []byte(`{"code":"not found","message":"bucket \"b\" not found"}`)}
	cases := []struct {
		name    string
		r       publisher.Reply
		action  publisher.Action
		status  int
		message []string // in the Message; none: Message must be empty
	}{
		{"204", influxReply(204, ""), publisher.ActionOK, 204, nil},
		{"200 html page", html, publisher.ActionRetry, 200, []string{"not 204", "<html><head><title>Login</title>"}},
		{"200 long body", long, publisher.ActionRetry, 200, []string{"<html>xxxxxxxx"}},
		{"200 empty", influxReply(200, ""), publisher.ActionRetry, 200, []string{"not 204"}},
		{"200 cut off", publisher.Reply{Status: 200, Header: http.Header{}, Body: []byte("short")},
			publisher.ActionRetry, 200, []string{`"short"`}},
		{"201", publisher.Reply{Status: 201, Header: http.Header{}, Body: []byte(`{"id":"x"}`)},
			publisher.ActionRetry, 201, []string{`{\"id\":\"x\"}`}},
		{"202", influxReply(202, ""), publisher.ActionRetry, 202, []string{"not 204"}},
		{"400 unknown", influxReply(400, "invalid body: something new"), publisher.ActionRefused, 400,
			[]string{"invalid body: something new"}},
		{"400 partial write", influxReply(400, "partial write: points beyond retention policy dropped=1"),
			publisher.ActionDropped, 400, []string{"points beyond retention policy"}},
		{"404 bucket not found", bucketMissing, publisher.ActionCreateDatabase, 404, []string{`bucket "b" not found`}},
		{"404 other", publisher.Reply{Status: 404, Header: http.Header{}, Body: []byte("404 page not found")},
			publisher.ActionRetry, 404, []string{"404 page not found"}},
		{"401", influxReply(401, "unauthorized access"), publisher.ActionAuth, 401, []string{"unauthorized access"}},
		{"413", influxReply(413, "too large"), publisher.ActionSplit, 413, []string{"too large"}},
		{"429", withHeader(influxReply(429, "slow down"), "Retry-After", "3"), publisher.ActionRetry, 429, []string{"slow down"}},
		{"503", influxReply(503, "overloaded"), publisher.ActionRetry, 503, []string{"overloaded"}},
		{"transport error", publisher.Reply{Err: errors.New("connection reset by peer")}, publisher.ActionRetry, 0,
			[]string{"connection reset by peer"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := publisher.ClassifyWrite(c.r, now)
			if got.Action != c.action || got.Status != c.status {
				t.Errorf("ClassifyWrite = %v (HTTP %d) %q, want %v (HTTP %d)", got.Action, got.Status, got.Message, c.action, c.status)
			}
			if len(c.message) == 0 && got.Message != "" {
				t.Errorf("Message %q, want none", got.Message)
			}
			for _, m := range c.message {
				if !strings.Contains(got.Message, m) {
					t.Errorf("Message %q does not contain %q", got.Message, m)
				}
			}
			if len(got.Message) > 1000 {
				t.Errorf("Message is %d bytes long, want the start of the body only", len(got.Message))
			}
			if (got.Err() == nil) != (c.action == publisher.ActionOK) {
				t.Errorf("Err() = %v for %v", got.Err(), got.Action)
			}
			// Except for 2xx, a write's reply means what Classify says.
			if c.r.Err != nil || c.r.Status < 200 || c.r.Status >= 300 {
				if want := publisher.Classify(c.r, now); !reflect.DeepEqual(got, want) {
					t.Errorf("ClassifyWrite %+v, Classify %+v", got, want)
				}
			}
		})
	}
	if got := publisher.ClassifyWrite(withHeader(influxReply(429, "slow down"), "Retry-After", "3"), now).RetryAfter; got != 3*time.Second {
		t.Errorf("429 RetryAfter %v, want 3s", got)
	}
	o := publisher.ClassifyWrite(html, now)
	if r := o.Reason(); !strings.Contains(r, "HTTP 200") || !strings.Contains(r, "<html><head><title>Login</title>") {
		t.Errorf("Reason() = %q, want it to name HTTP 200 and the start of the body", r)
	}
	if e := o.Err(); e == nil || !strings.Contains(e.Error(), "HTTP 200") {
		t.Errorf("Err() = %v, want it to name HTTP 200", e)
	}
	var we *publisher.WriteError
	if !errors.As(o.Err(), &we) || !we.Retryable() {
		t.Errorf("Err() of a 200 is not a retryable *WriteError: %#v", o.Err())
	}
	if r := publisher.ClassifyWrite(influxReply(201, ""), now).Reason(); !strings.Contains(r, "HTTP 201") {
		t.Errorf("201 Reason() = %q, want it to name HTTP 201", r)
	}
}
