package influxtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/influxdb1-client/models"

	"github.com/ocsflux/ocsflux/internal/influxd"
)

// Server is a running influxd owned by one test (or by TestMain).
type Server struct {
	*influxd.Server
	// Username and Password are the admin credentials when started with
	// auth; empty otherwise.
	Username, Password string
}

// Options for StartOpts.
type Options struct {
	// Auth enables authentication and creates an admin user
	// Username/Password (defaults "admin"/"admin-secret").
	Auth               bool
	Username, Password string
}

// Start launches influxd for t and stops it in t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartOpts(t, Options{})
}

// StartOpts is Start with options.
func StartOpts(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Launch(context.Background(), opts)
	if err != nil {
		t.Fatalf("influxtest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Launch starts a server without a testing.TB (for TestMain); the caller
// must call Stop.
func Launch(ctx context.Context, opts Options) (*Server, error) {
	srv, err := influxd.Start(ctx, influxd.Options{Auth: opts.Auth})
	if err != nil {
		return nil, err
	}
	s := &Server{Server: srv}
	if opts.Auth {
		s.Username, s.Password = opts.Username, opts.Password
		if s.Username == "" {
			s.Username, s.Password = "admin", "admin-secret"
		}
		q := fmt.Sprintf("CREATE USER %q WITH PASSWORD '%s' WITH ALL PRIVILEGES",
			s.Username, strings.ReplaceAll(s.Password, "'", `\'`))
		if _, err := s.do(ctx, "", q, false); err != nil {
			srv.Stop()
			return nil, fmt.Errorf("create admin user: %w", err)
		}
	}
	return s, nil
}

// CreateDatabase creates db (idempotent).
func (s *Server) CreateDatabase(t testing.TB, db string) {
	t.Helper()
	s.Exec(t, "", fmt.Sprintf("CREATE DATABASE %q", db))
}

// Exec runs a statement that returns no rows (CREATE, DROP, ...) with POST.
func (s *Server) Exec(t testing.TB, db, q string) {
	t.Helper()
	if _, err := s.do(context.Background(), db, q, true); err != nil {
		t.Fatalf("influxtest: %s: %v", q, err)
	}
}

// QueryRows runs an InfluxQL query in db and returns the series of its
// first statement. Numbers are json.Number, so integers and floats can be
// told apart.
func (s *Server) QueryRows(t testing.TB, db, q string) []models.Row {
	t.Helper()
	rows, err := s.do(context.Background(), db, q, false)
	if err != nil {
		t.Fatalf("influxtest: %s: %v", q, err)
	}
	return rows
}

// QueryRowsErr is QueryRows that returns the error instead of failing, for
// use inside polling loops and callbacks.
func (s *Server) QueryRowsErr(ctx context.Context, db, q string) ([]models.Row, error) {
	return s.do(ctx, db, q, false)
}

// Query runs q in db and returns the values of every series of its first
// statement, concatenated.
func (s *Server) Query(t testing.TB, db, q string) [][]any {
	t.Helper()
	var out [][]any
	for _, r := range s.QueryRows(t, db, q) {
		out = append(out, r.Values...)
	}
	return out
}

// Write posts line protocol to /write?db=db&precision=ns and fails the
// test unless InfluxDB answers 204.
func (s *Server) Write(t testing.TB, db, lines string) {
	t.Helper()
	u := s.URL + "/write?" + url.Values{"db": {db}, "precision": {"ns"}}.Encode()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(lines))
	if err != nil {
		t.Fatal(err)
	}
	s.auth(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("influxtest: write: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("influxtest: write: HTTP %d: %s", resp.StatusCode, body)
	}
}

func (s *Server) auth(req *http.Request) {
	if s.Username != "" {
		req.SetBasicAuth(s.Username, s.Password)
	}
}

func (s *Server) do(ctx context.Context, db, q string, post bool) ([]models.Row, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v := url.Values{"q": {q}}
	if db != "" {
		v.Set("db", db)
	}
	var req *http.Request
	var err error
	if post {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/query",
			strings.NewReader(v.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/query?"+v.Encode(), nil)
	}
	if err != nil {
		return nil, err
	}
	s.auth(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	var r struct {
		Results []struct {
			Series []models.Row `json:"series"`
			Err    string       `json:"error"`
		} `json:"results"`
		Err string `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("decode reply: %w", err)
	}
	if r.Err != "" {
		return nil, fmt.Errorf("%s", r.Err)
	}
	if len(r.Results) == 0 {
		return nil, nil
	}
	if r.Results[0].Err != "" {
		return nil, fmt.Errorf("%s", r.Results[0].Err)
	}
	return r.Results[0].Series, nil
}
