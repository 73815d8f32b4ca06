package influxdb_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocsclient "github.com/ocsflux/ocsflux/agents/client"
	"github.com/ocsflux/ocsflux/agents/influxdb"
	"github.com/ocsflux/ocsflux/internal/influxtest"
)

// TestCredentialsReadAtStart: record reads INFLUXDB_USERNAME/PASSWORD (and
// their _FILE forms) at every start (§7.3; checklist 52): with a wrong
// password it keeps retrying with data {}; after the environment is fixed,
// the next start connects. An unreadable _FILE makes record crash, with a
// message naming the variable and not revealing the credentials.
func TestCredentialsReadAtStart(t *testing.T) {
	t.Parallel()
	srv := influxtest.StartOpts(t, influxtest.Options{Auth: true})
	r := startRouter(t)
	src := startSource(t, r)
	const db = "auth"
	env := &testEnv{m: map[string]string{
		"INFLUXDB_USERNAME": srv.Username,
		"INFLUXDB_PASSWORD": "not-the-password",
	}}
	ia := startInflux(t, r, testOptions(srv.URL, db, "record"), "", env.lookup)
	waitSubscribed(t, ia, src)

	waitFor(t, 10*time.Second, "authentication failure logged", func() bool {
		return len(ia.logs.lines("failed to authenticate")) > 0
	})
	rep := expect(t, "status", ia.ops(t, "status", nil, nil), ocsclient.OK, "Session active.")
	if d, _ := rep.Session["data"].(map[string]any); rep.Session["status"] != "running" || len(d) != 0 {
		t.Errorf("session while refused %v", rep.Session)
	}
	expect(t, "stop", ia.ops(t, "stop", nil, nil), ocsclient.OK, `Requested stop on process record".`)
	rep = expect(t, "wait", ia.ops(t, "wait", nil, ptr(10.0)), ocsclient.OK,
		`Operation "record" is currently not running (FAILED).`)
	if msgs := messageTexts(rep.Session); len(msgs) < 2 || msgs[len(msgs)-2] != influxdb.MsgNotConnected {
		t.Errorf("messages %q", msgs)
	}

	env.set("INFLUXDB_PASSWORD", srv.Password)
	expect(t, "start", ia.ops(t, "start", nil, nil), ocsclient.OK, `Started process "record".`)
	ia.waitRecording(t)
	src.publish(t, samples(1, 1)...)
	waitCount(t, srv, db, srcAddr, "temps", "seq", 1)
	expect(t, "stop", ia.ops(t, "stop", nil, nil), ocsclient.OK, `Requested stop on process record".`)
	expect(t, "wait", ia.ops(t, "wait", nil, ptr(10.0)), ocsclient.OK,
		`Operation "record" is currently not running (SUCCEEDED).`)

	// A set but unreadable _FILE: CRASH, even though INFLUXDB_PASSWORD is set.
	missing := filepath.Join(t.TempDir(), "no-such-file")
	env.set("INFLUXDB_PASSWORD_FILE", missing)
	expect(t, "start", ia.ops(t, "start", nil, nil), ocsclient.OK, `Started process "record".`)
	rep = expect(t, "wait", ia.ops(t, "wait", nil, ptr(10.0)), ocsclient.OK,
		`Operation "record" is currently not running (FAILED).`)
	msgs := messageTexts(rep.Session)
	if len(msgs) < 2 || !strings.HasPrefix(msgs[len(msgs)-2], "CRASH: ") ||
		!strings.Contains(msgs[len(msgs)-2], "INFLUXDB_PASSWORD_FILE") {
		t.Errorf("messages %q: want a CRASH naming INFLUXDB_PASSWORD_FILE", msgs)
	}
	if strings.Contains(ia.logs.String(), srv.Password) || strings.Contains(ia.logs.String(), "not-the-password") {
		t.Errorf("a password appears in the log")
	}
}
