package client_test

import (
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/agents/client"
	"github.com/ocsflux/ocsflux/agents/router/wampjson"
)

func decode(t *testing.T, text string) any {
	t.Helper()
	v, err := wampjson.Unmarshal([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The reference captures (reference-output.md §1), as [status, msg, session].
const (
	runningReply = `[0, "Session active.", {"cred_level": 1, "data": {"connected": true, "last_updated": 1795294581.9686928},
		"degraded": false, "end_time": null, "messages": [[1795294567.9462838, "Status is now \"starting\"."],
		[1795294567.9466848, "Status is now \"running\"."]], "op_code": 3, "op_name": "record", "session_id": 1,
		"start_time": 1795294567.9462838, "status": "running", "success": null}]`
	doneReply = `[0, "Operation \"record\" is currently not running (SUCCEEDED).", {"cred_level": 1,
		"data": {"connected": true, "last_updated": 1795294582.9688213}, "degraded": false, "end_time": 1795294582.9693456,
		"messages": [[1795294567.9462838, "Status is now \"starting\"."], [1795294567.9466848, "Status is now \"running\"."],
		[1795294582.2310271, "Status is now \"stopping\"."], [1795294582.9691744, "Aggregation has ended"],
		[1795294582.9693456, "Status is now \"done\"."], [1795294583.0, "extra"]], "op_code": 5, "op_name": "record",
		"session_id": 1, "start_time": 1795294567.9462838, "status": "done", "success": true}]`
)

func TestReplyFormat(t *testing.T) {
	now := time.Unix(1795294581, 500_000_000)
	cases := []struct {
		reply string
		now   time.Time
		want  string
	}{
		{runningReply, now, "OCSReply: OK : Session active.\n" +
			"  record[session=1]; status=running for 13.6 s\n" +
			"  messages (2 of 2):\n" +
			"    1795294567.946 Status is now \"starting\".\n" +
			"    1795294567.947 Status is now \"running\".\n" +
			"  data: {\"connected\":true,\"last_updated\":1795294581.9686928}\n" +
			"  other keys in .session: op_code=3, cred_level=1, degraded=false"},
		{doneReply, now.Add(3 * time.Hour), "OCSReply: OK : Operation \"record\" is currently not running (SUCCEEDED).\n" +
			"  record[session=1]; status=done without error 3.0 hrs ago, took 15.0 s\n" +
			"  messages (5 of 6):\n" +
			"    1795294567.947 Status is now \"running\".\n" +
			"    1795294582.231 Status is now \"stopping\".\n" +
			"    1795294582.969 Aggregation has ended\n" +
			"    1795294582.969 Status is now \"done\".\n" +
			"    1795294583.000 extra\n" +
			"  data: {\"connected\":true,\"last_updated\":1795294582.9688213}\n" +
			"  other keys in .session: op_code=5, cred_level=1, degraded=false"},
		{`[-1, "The operation is already done", {}]`, now, "OCSReply: ERROR : The operation is already done\n  (no session -- op has never run)"},
		{`[1, "Operation \"record\" still running; wait timed out.", {"op_name": "record", "session_id": 2, "status": "stopping", "x": [1]}]`, now,
			"OCSReply: TIMEOUT : Operation \"record\" still running; wait timed out.\n  record[session=2]; status=stopping\n  other keys in .session: x=[1]"},
		{`[7, "odd", {"status": 3}]`, now, "OCSReply: ??? : odd\n  [session decode failed: status 3 is not a string]\n  session: {\"status\":3}"},
	}
	for _, c := range cases {
		r, err := client.ReplyFromResult(decode(t, c.reply))
		if err != nil {
			t.Fatalf("ReplyFromResult(%s): %v", c.reply, err)
		}
		if got := r.Format(c.now); got != c.want {
			t.Errorf("Format:\n%s\nwant:\n%s", got, c.want)
		}
	}
}

func TestReplyFromResultRejects(t *testing.T) {
	for _, bad := range []string{`[]`, `[0, "x"]`, `{"a": 1}`, `["0", "x", {}]`, `[0.5, "x", {}]`, `[0, 1, {}]`, `[0, "x", []]`} {
		if r, err := client.ReplyFromResult(decode(t, bad)); err == nil {
			t.Errorf("ReplyFromResult(%s) = %+v, want an error", bad, r)
		}
	}
	r, err := client.ReplyFromResult(decode(t, `[0, "Idle.", null]`))
	if err != nil || len(r.Session) != 0 {
		t.Errorf("null session: %+v %v", r, err)
	}
}

func TestReplyMap(t *testing.T) {
	r, err := client.ReplyFromResult(decode(t, `[-1, "No session active.", {}]`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := wampjson.Marshal(r.Map())
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"msg":"No session active.","session":{},"status":-1}` {
		t.Errorf("Map = %s", got)
	}
}

func TestFormatAPI(t *testing.T) {
	api := decode(t, `{"agent_class": "InfluxDBAgent", "instance_hostname": "ocs-docker", "instance_pid": 7,
		"feeds": [["heartbeat", {"record": false}]],
		"processes": [["record", {"op_name": "record", "status": "running", "op_code": 3, "session_id": 1}, {}]],
		"tasks": [], "access_control": {"policy": "none"}}`).(map[string]any)
	want := "observatory.influxagent: InfluxDBAgent on ocs-docker (pid 7)\n" +
		"processes:\n  record  running, op_code 3 RUNNING, session 1\n" +
		"tasks:\n  (none)\n" +
		"feeds:\n  heartbeat  record=false\n" +
		"access_control: policy none"
	if got := client.FormatAPI("observatory.influxagent", api); got != want {
		t.Errorf("FormatAPI:\n%s\nwant:\n%s", got, want)
	}
	if client.OpCodeName(8) != "DEGRADED" || client.OpCodeName(0) != "?" {
		t.Error("OpCodeName")
	}
}
