package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// influx is the bench's InfluxDB 1.x query client: /ping and /query only.
type influx struct {
	base, db           string
	username, password string
	hc                 *http.Client
}

func newInflux(cfg *Config) *influx {
	return &influx{
		base: strings.TrimRight(cfg.InfluxURL, "/"), db: cfg.Database,
		username: cfg.Username, password: cfg.Password,
		hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second}},
	}
}

func (c *influx) close() { c.hc.CloseIdleConnections() }

// ping checks that InfluxDB answers.
func (c *influx) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/ping", nil)
	if err != nil {
		return err
	}
	c.auth(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("InfluxDB at %s does not answer: %w", c.base, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("InfluxDB at %s: /ping answered HTTP %d", c.base, resp.StatusCode)
	}
	return nil
}

func (c *influx) auth(req *http.Request) {
	if c.username != "" {
		req.SetBasicAuth(c.username, c.password)
	}
}

// errNoDatabase is a query on a database that does not exist (yet): the
// publisher creates it when it starts recording.
var errNoDatabase = errors.New("database not found")

// series is one series of a query result.
type series struct {
	Name    string   `json:"name"`
	Columns []string `json:"columns"`
	Values  [][]any  `json:"values"`
}

// query runs one statement with epoch=ns and returns its series.
func (c *influx) query(ctx context.Context, q string) ([]series, error) {
	u := c.base + "/query?" + url.Values{"db": {c.db}, "q": {q}, "epoch": {"ns"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	c.auth(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("query InfluxDB: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("query InfluxDB: %w", err)
	}
	return parseQueryReply(resp.StatusCode, body)
}

// parseQueryReply reads a /query reply of one statement (numbers as
// json.Number).
func parseQueryReply(status int, body []byte) ([]series, error) {
	var r struct {
		Results []struct {
			Series []series `json:"series"`
			Err    string   `json:"error"`
		} `json:"results"`
		Err string `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		if status/100 != 2 {
			return nil, fmt.Errorf("query InfluxDB: HTTP %d: %s", status, trimBody(body))
		}
		return nil, fmt.Errorf("query InfluxDB: decode reply: %w", err)
	}
	msg := r.Err
	if msg == "" && len(r.Results) > 0 {
		msg = r.Results[0].Err
	}
	switch {
	case strings.Contains(msg, "database not found"):
		return nil, errNoDatabase
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return nil, fmt.Errorf("query InfluxDB: HTTP %d (%s): check INFLUXDB_USERNAME and INFLUXDB_PASSWORD", status, msg)
	case msg != "":
		return nil, fmt.Errorf("query InfluxDB: %s", msg)
	case status/100 != 2:
		return nil, fmt.Errorf("query InfluxDB: HTTP %d: %s", status, trimBody(body))
	case len(r.Results) == 0:
		return nil, nil
	}
	return r.Results[0].Series, nil
}

func trimBody(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// measurementRegex is an InfluxQL regular expression matching exactly the
// measurements (agent addresses) of a run.
func measurementRegex(root, runID string) string {
	re := "^" + regexp.QuoteMeta(root+".bench-"+runID+"-") + "[0-9]+$"
	return "/" + strings.ReplaceAll(re, "/", `\/`) + "/"
}

// newestPerMeasurement returns, per measurement of the run, the newest
// timestamp (ns) of field on feed newer than after (ns).
func (c *influx) newestPerMeasurement(ctx context.Context, re, field, feed string, after int64) (map[string]int64, error) {
	q := fmt.Sprintf(`SELECT last(%s) FROM %s WHERE "feed" = '%s' AND time > %d`, quoteIdent(field), re, feed, after)
	return c.perMeasurement(ctx, q, 0)
}

// countPerMeasurement returns, per measurement of the run, the number of
// points with field on feed at or after since (ns).
func (c *influx) countPerMeasurement(ctx context.Context, re, field, feed string, since int64) (map[string]int64, error) {
	q := fmt.Sprintf(`SELECT count(%s) FROM %s WHERE "feed" = '%s' AND time >= %d`, quoteIdent(field), re, feed, since)
	return c.perMeasurement(ctx, q, 1)
}

// perMeasurement runs q and returns column col of each series' first row
// by measurement (col 0 is the time).
func (c *influx) perMeasurement(ctx context.Context, q string, col int) (map[string]int64, error) {
	ss, err := c.query(ctx, q)
	if errors.Is(err, errNoDatabase) {
		return map[string]int64{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(ss))
	for _, s := range ss {
		if len(s.Values) == 0 || len(s.Values[0]) <= col {
			continue
		}
		num, ok := s.Values[0][col].(json.Number)
		n, err := num.Int64()
		if !ok || err != nil {
			return nil, fmt.Errorf("query InfluxDB: %s: %q is not an integer", s.Name, s.Values[0][col])
		}
		out[s.Name] = n
	}
	return out, nil
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}
