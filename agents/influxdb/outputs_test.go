package influxdb_test

import (
	"strings"
	"testing"

	"github.com/ocsflux/ocsflux/agents/influxdb"
	"github.com/ocsflux/ocsflux/publisher"
)

// TestParseOutput: --output URLs are read into exactly the OutputSpec they
// describe (api v1 and database ocs_feeds by default, the name from the
// host and port), and bad ones are refused with an error saying what is
// wrong — without ever printing credentials given in the URL or values of
// the query.
func TestParseOutput(t *testing.T) {
	t.Parallel()
	good := []struct {
		in   string
		want influxdb.OutputSpec
	}{
		{"http://vm:8428", influxdb.OutputSpec{
			Name: "vm_8428", URL: "http://vm:8428", API: publisher.APIv1, Database: "ocs_feeds"}},
		{"http://vm", influxdb.OutputSpec{
			Name: "vm", URL: "http://vm", API: publisher.APIv1, Database: "ocs_feeds"}},
		{"https://10.0.0.7:8086/influx/?api=v1&db=site&rp=one_week", influxdb.OutputSpec{
			Name: "10.0.0.7_8086", URL: "https://10.0.0.7:8086/influx/", API: publisher.APIv1,
			Database: "site", RetentionPolicy: "one_week"}},
		{"http://[::1]:8086", influxdb.OutputSpec{
			Name: "__1_8086", URL: "http://[::1]:8086", API: publisher.APIv1, Database: "ocs_feeds"}},
		{"http://vm:8428?name=victoria&create=false", influxdb.OutputSpec{
			Name: "victoria", URL: "http://vm:8428", API: publisher.APIv1, Database: "ocs_feeds", NoCreate: true}},
		{"http://vm:8428?create=true", influxdb.OutputSpec{
			Name: "vm_8428", URL: "http://vm:8428", API: publisher.APIv1, Database: "ocs_feeds"}},
		{"http://influx1:8086?username_file=/run/secrets/user&password_file=/run/secrets/pw", influxdb.OutputSpec{
			Name: "influx1_8086", URL: "http://influx1:8086", API: publisher.APIv1, Database: "ocs_feeds",
			UsernameFile: "/run/secrets/user", PasswordFile: "/run/secrets/pw"}},
		{"https://influx2:8086?api=v2&org=simons&bucket=feeds", influxdb.OutputSpec{
			Name: "influx2_8086", URL: "https://influx2:8086", API: publisher.APIv2, Org: "simons", Bucket: "feeds"}},
		{"https://influx2:8086?api=v2&org=simons&bucket=feeds&token_file=/run/secrets/token&name=cloud", influxdb.OutputSpec{
			Name: "cloud", URL: "https://influx2:8086", API: publisher.APIv2, Org: "simons", Bucket: "feeds",
			TokenFile: "/run/secrets/token"}},
		{"http://vm:8428?api=v2&bucket=feeds&create=false", influxdb.OutputSpec{
			Name: "vm_8428", URL: "http://vm:8428", API: publisher.APIv2, Bucket: "feeds", NoCreate: true}},
	}
	for _, tc := range good {
		got, err := influxdb.ParseOutput(tc.in)
		if err != nil {
			t.Errorf("ParseOutput(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseOutput(%q)\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
	}

	const secret = "s3cretPW"
	bad := []struct {
		name, in, want string
	}{
		{"user info", "http://admin:" + secret + "@vm:8428?db=x",
			"must not contain credentials: use token_file= or username_file= and password_file="},
		{"user info without a query", "https://admin:" + secret + "@influx2:8086",
			"must not contain credentials"},
		{"user name only", "http://admin@vm:8428", "must not contain credentials"},
		{"user info that is no URL", "http://admin:" + secret + "%zz@vm:8428", "not a URL"},
		{"unknown parameter", "http://vm:8428?database=x",
			`"http://vm:8428": unknown parameter "database" (known: api, db, rp, org, bucket, create, name, token_file, username_file, password_file)`},
		{"unknown parameter holding a secret", "http://vm:8428?token=" + secret, `unknown parameter "token"`},
		{"api=v3", "http://vm:8428?api=v3", `"http://vm:8428": api=v3: must be v1 or v2`},
		{"v2 without bucket", "http://influx2:8086?api=v2&org=simons", `"http://influx2:8086": api=v2 needs bucket=`},
		{"v2 with db", "http://influx2:8086?api=v2&bucket=b&db=x", "db= and rp= are for api=v1"},
		{"v1 with bucket", "http://influx1:8086?api=v1&bucket=feeds", `"http://influx1:8086": org= and bucket= are for api=v2`},
		{"default api with org", "http://influx1:8086?org=simons", "org= and bucket= are for api=v2"},
		{"token_file with username_file", "http://influx2:8086?api=v2&bucket=b&token_file=/t&username_file=/u",
			`"http://influx2:8086": token_file= and username_file=/password_file= exclude each other`},
		{"token_file with password_file", "http://influx1:8086?token_file=/t&password_file=/p",
			"token_file= and username_file=/password_file= exclude each other"},
		{"create=maybe", "http://vm:8428?create=maybe", `"http://vm:8428": create=maybe: must be true or false`},
		{"repeated parameter", "http://vm:8428?db=a&db=b", `"http://vm:8428": parameter "db" given twice`},
		{"repeated secret parameter", "http://vm:8428?token_file=/a&token_file=/" + secret, `parameter "token_file" given twice`},
		{"ftp scheme", "ftp://vm:21?db=x", `must start with http:// or https://, got "ftp://vm:21"`},
		{"no host", "http:///path", "has no host"},
		{"bad port", "http://vm:99999", "bad port"},
		{"name with a slash", "http://vm:8428?name=a/b", `name "a/b": must be letters, digits`},
		{"name escaping the spool", "http://vm:8428?name=/../../escaped", `name "/../../escaped": must be letters`},
		{"name ..", "http://vm:8428?name=..", `name "..": must be letters`},
	}
	for _, tc := range bad {
		got, err := influxdb.ParseOutput(tc.in)
		if err == nil {
			t.Errorf("%s: ParseOutput(%q) = %+v, want an error containing %q", tc.name, tc.in, got, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: ParseOutput(%q) error %q, want it to contain %q", tc.name, tc.in, err, tc.want)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: ParseOutput(%q) error %q reveals the secret", tc.name, tc.in, err)
		}
		if got != (influxdb.OutputSpec{}) {
			t.Errorf("%s: ParseOutput(%q) returned %+v with its error", tc.name, tc.in, got)
		}
	}

	// The agent's option check refuses bad --output values too, naming the
	// flag and not revealing the password.
	o := influxdb.Defaults()
	o.Outputs = []string{"http://vm:8428?db=x", "http://admin:" + secret + "@vm:8428"}
	err := o.Validate()
	if err == nil || !strings.Contains(err.Error(), "--output: must not contain credentials") {
		t.Errorf("Validate with a password in --output: %v, want --output: must not contain credentials", err)
	} else if strings.Contains(err.Error(), secret) {
		t.Errorf("Validate error %q reveals the password", err)
	}

	// Output names are unique, and not the main target's ("influxdb"),
	// before anything starts: they name the spool directories.
	for _, outs := range [][]string{
		{"http://vm:8428?db=a", "http://vm:8428?db=b"},
		{"http://vm:8428?name=influxdb"},
	} {
		o := influxdb.Defaults()
		o.Outputs = outs
		if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--output: two outputs are named") {
			t.Errorf("Validate(%q) = %v, want two outputs with one name refused", outs, err)
		}
	}
}
