package publisher_test

import (
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"

	"github.com/ocsflux/ocsflux/publisher"
)

func TestLoadCredentials(t *testing.T) {
	files := map[string]string{
		"/run/secrets/user":     "alice\r\n\n",
		"/run/secrets/pass":     "s3cret \t\n", // only CR/LF are stripped
		"/run/secrets/token":    "tok-123\n",
		"/run/secrets/empty":    "",
		"/run/secrets/latin1":   "\xff\xfe",
		"/run/secrets/mid-crlf": "a\r\nb\n",
	}
	readFile := func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
	}
	cases := []struct {
		name    string
		env     map[string]string
		want    publisher.Credentials
		wantErr string
	}{
		{"defaults root/root", nil, publisher.Credentials{Username: "root", Password: "root"}, ""},
		{"variables", map[string]string{"INFLUXDB_USERNAME": "u", "INFLUXDB_PASSWORD": "p"},
			publisher.Credentials{Username: "u", Password: "p"}, ""},
		{"empty variables win over default", map[string]string{"INFLUXDB_USERNAME": "", "INFLUXDB_PASSWORD": ""},
			publisher.Credentials{}, ""},
		{"files, CR/LF stripped", map[string]string{"INFLUXDB_USERNAME_FILE": "/run/secrets/user", "INFLUXDB_PASSWORD_FILE": "/run/secrets/pass"},
			publisher.Credentials{Username: "alice", Password: "s3cret \t"}, ""},
		{"only trailing CR/LF stripped", map[string]string{"INFLUXDB_USERNAME_FILE": "/run/secrets/mid-crlf"},
			publisher.Credentials{Username: "a\r\nb", Password: "root"}, ""},
		{"variable beats file", map[string]string{"INFLUXDB_USERNAME": "v", "INFLUXDB_USERNAME_FILE": "/run/secrets/user"},
			publisher.Credentials{Username: "v", Password: "root"}, ""},
		{"empty variable beats file", map[string]string{"INFLUXDB_PASSWORD": "", "INFLUXDB_PASSWORD_FILE": "/run/secrets/pass"},
			publisher.Credentials{Username: "root", Password: ""}, ""},
		{"empty file", map[string]string{"INFLUXDB_PASSWORD_FILE": "/run/secrets/empty"},
			publisher.Credentials{Username: "root", Password: ""}, ""},
		{"unreadable file fails even with the variable set", map[string]string{"INFLUXDB_USERNAME": "v", "INFLUXDB_USERNAME_FILE": "/nope"},
			publisher.Credentials{}, `read INFLUXDB_USERNAME_FILE file "/nope"`},
		{"file not UTF-8", map[string]string{"INFLUXDB_PASSWORD_FILE": "/run/secrets/latin1"},
			publisher.Credentials{}, "not valid UTF-8"},
		{"token variable", map[string]string{"INFLUXDB_TOKEN": "t"},
			publisher.Credentials{Username: "root", Password: "root", Token: "t"}, ""},
		{"token file", map[string]string{"INFLUXDB_TOKEN_FILE": "/run/secrets/token"},
			publisher.Credentials{Username: "root", Password: "root", Token: "tok-123"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := c.env[k]; return v, ok }
			got, err := publisher.LoadCredentials(lookup, readFile)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("got %q/%q/%q, want %q/%q/%q", got.Username, got.Password, got.Token,
					c.want.Username, c.want.Password, c.want.Token)
			}
		})
	}
}

// TestCredentialsNotPrinted: formatting and logging never show secrets.
func TestCredentialsNotPrinted(t *testing.T) {
	for _, c := range []publisher.Credentials{
		{Username: "alice", Password: "hunter2"},
		{Username: "alice", Password: "hunter2", Token: "tok-secret"},
	} {
		var b strings.Builder
		log := slog.New(slog.NewTextHandler(&b, nil))
		log.Info("x", "creds", c)
		cfg := publisher.DefaultConfig()
		cfg.Credentials = c
		for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c),
			fmt.Sprintf("%+v %#v", cfg, cfg), b.String()} {
			for _, secret := range []string{"hunter2", "tok-secret"} {
				if strings.Contains(s, secret) {
					t.Errorf("secret %q printed: %s", secret, s)
				}
			}
		}
	}
}

func TestCreateDatabaseQuery(t *testing.T) {
	for db, want := range map[string]string{
		"ocs_feeds": `CREATE DATABASE "ocs_feeds"`,
		`a"b\c`:     `CREATE DATABASE "a\"b\\c"`,
	} {
		if got := publisher.CreateDatabaseQuery(db); got != want {
			t.Errorf("CreateDatabaseQuery(%q) = %q, want %q", db, got, want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	d := publisher.DefaultConfig()
	if err := d.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	if d.Host != "influxdb" || d.Port != 8086 || d.Database != "ocs_feeds" || d.Protocol != publisher.ProtocolLine ||
		d.BatchPoints != 5000 || d.BatchBytes != 4<<20 || d.FlushInterval.Seconds() != 1 || d.Gzip || d.SSL || d.VerifySSL {
		t.Errorf("unexpected defaults %+v", d)
	}
	for _, c := range []struct {
		name    string
		mod     func(*publisher.Config)
		wantErr string
		wantURL string
	}{
		{"default url", func(*publisher.Config) {}, "", "http://influxdb:8086"},
		{"ssl", func(c *publisher.Config) { c.SSL = true; c.Host = "db.example"; c.Port = 443 }, "", "https://db.example:443"},
		{"ipv6 host", func(c *publisher.Config) { c.Host = "::1" }, "", "http://[::1]:8086"},
		{"url overrides", func(c *publisher.Config) { c.URL = "https://cloud.example/influx/"; c.Port = 1 }, "", "https://cloud.example/influx"},
		{"port 0", func(c *publisher.Config) { c.Port = 0 }, "port 0", ""},
		{"port 70000", func(c *publisher.Config) { c.Port = 70000 }, "port 70000", ""},
		{"url with credentials", func(c *publisher.Config) { c.URL = "http://bob:hunter2@h:8086" }, "must not contain credentials", ""},
		{"url scheme", func(c *publisher.Config) { c.URL = "ftp://h" }, "scheme", ""},
		{"url query", func(c *publisher.Config) { c.URL = "http://h/?db=x" }, "query", ""},
		{"protocol", func(c *publisher.Config) { c.Protocol = "xml" }, `protocol "xml"`, ""},
		{"gzip level", func(c *publisher.Config) { c.GzipLevel = 11 }, "gzip level", ""},
		{"batch bytes", func(c *publisher.Config) { c.BatchBytes = 30 << 20 }, "batch bytes", ""},
		{"pending below batch", func(c *publisher.Config) { c.MaxPendingBytes = 10 }, "max pending bytes", ""},
		{"negative interval", func(c *publisher.Config) { c.FlushInterval = -1 }, "flush interval", ""},
		{"empty database", func(c *publisher.Config) { c.Database = "" }, "database", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := publisher.DefaultConfig()
			c.mod(&cfg)
			err := cfg.Validate()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Errorf("Validate() = %v, want error containing %q", err, c.wantErr)
				}
				if err != nil && strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error reveals the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			u, err := cfg.BaseURL()
			if err != nil || u.String() != c.wantURL {
				t.Errorf("BaseURL() = %v, %v, want %s", u, err, c.wantURL)
			}
		})
	}
	if _, err := publisher.New(publisher.Config{OutputConfig: publisher.OutputConfig{Port: -1}}, nil); err == nil || !strings.Contains(err.Error(), "port -1") {
		t.Errorf("New with a bad port: %v, want a port error", err)
	}
	if _, err := publisher.New(publisher.Config{}, nil); err != nil {
		t.Errorf("New with the zero Config (defaults): %v", err)
	}
}
