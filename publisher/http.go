package publisher

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxReplyBody is how much of a reply body is read; the rest is discarded
// so the connection can be reused.
const maxReplyBody = 64 << 10

// userAgent identifies ocsflux to InfluxDB.
const userAgent = "ocsflux"

// influxHTTP makes an output's requests to its server, through the API
// (APIv1 or APIv2) of its configuration. Only the output's writer
// goroutine uses it.
type influxHTTP struct {
	cfg      OutputConfig
	client   *http.Client
	base     *url.URL
	writeURL string
	auth     string
}

func newInfluxHTTP(cfg OutputConfig) (*influxHTTP, error) {
	base, err := cfg.BaseURL()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4
	if base.Scheme == "https" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.CAFile != "" {
			pem, err := os.ReadFile(cfg.CAFile)
			if err != nil {
				return nil, fmt.Errorf("read CA file: %w", err)
			}
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("CA file %q: no PEM certificate found", cfg.CAFile)
			}
			tc.RootCAs = pool
		} else if !cfg.VerifySSL {
			tc.InsecureSkipVerify = true // Python's --verify-ssl default (false)
		}
		tr.TLSClientConfig = tc
	}
	var writeURL string
	switch cfg.API {
	case APIv2:
		writeURL = endpoint(base, "/api/v2/write", url.Values{"org": {cfg.Org}, "bucket": {cfg.Bucket}, "precision": {"ns"}})
	default:
		q := url.Values{"db": {cfg.Database}, "precision": {"ns"}}
		if cfg.RetentionPolicy != "" {
			q.Set("rp", cfg.RetentionPolicy)
		}
		writeURL = endpoint(base, "/write", q)
	}
	return &influxHTTP{
		cfg:      cfg,
		client:   &http.Client{Transport: tr},
		base:     base,
		writeURL: writeURL,
		auth:     cfg.Credentials.header(),
	}, nil
}

func endpoint(base *url.URL, path string, q url.Values) string {
	u := *base
	u.Path = base.Path + path
	u.RawQuery = q.Encode()
	return u.String()
}

// close releases idle keep-alive connections.
func (h *influxHTTP) close() { h.client.CloseIdleConnections() }

// write POSTs one batch body (gzip-compressed already with cfg.Gzip).
func (h *influxHTTP) write(ctx context.Context, body []byte) Reply {
	hdr := http.Header{"Content-Type": {"application/octet-stream"}}
	if h.cfg.Gzip {
		hdr.Set("Content-Encoding", "gzip")
	}
	return h.do(ctx, http.MethodPost, h.writeURL, hdr, body)
}

// target names what the output writes into, for logs.
func (h *influxHTTP) target() string {
	if h.cfg.API == APIv2 {
		return "bucket " + strconv.Quote(h.cfg.Bucket)
	}
	return "database " + strconv.Quote(h.cfg.Database)
}

// ensureTarget checks that the database (APIv1) or bucket (APIv2) exists
// and creates it if not; created says it was.
func (h *influxHTTP) ensureTarget(ctx context.Context) (created bool, o Outcome) {
	if h.cfg.API == APIv2 {
		found, o := h.findBucket(ctx)
		if o.Action != ActionOK || found {
			return false, o
		}
	} else {
		names, o := h.showDatabases(ctx)
		if o.Action != ActionOK || slices.Contains(names, h.cfg.Database) {
			return false, o
		}
	}
	o = h.createTarget(ctx)
	return o.Action == ActionOK, o
}

// createTarget creates the database (APIv1) or bucket (APIv2).
func (h *influxHTTP) createTarget(ctx context.Context) Outcome {
	if h.cfg.API == APIv2 {
		return h.createBucket(ctx)
	}
	return h.createDatabase(ctx, h.cfg.Database)
}

// findBucket looks the bucket up by name (GET /api/v2/buckets?name=, as
// the Python v2 agent does).
func (h *influxHTTP) findBucket(ctx context.Context) (bool, Outcome) {
	r := h.do(ctx, http.MethodGet, endpoint(h.base, "/api/v2/buckets", url.Values{"name": {h.cfg.Bucket}}), nil, nil)
	o := Classify(r, time.Now())
	if r.Status == http.StatusNotFound { // InfluxDB 2 answers 404 for an org it does not know
		o = Outcome{Action: ActionRetry, Status: r.Status, Message: "bucket lookup: " + replyMessage(r)}
	}
	if o.Action != ActionOK {
		return false, o
	}
	var res struct {
		Buckets []struct {
			Name string `json:"name"`
		} `json:"buckets"`
	}
	if err := json.Unmarshal(r.Body, &res); err != nil {
		return false, Outcome{Action: ActionRetry, Status: r.Status, Message: "bucket lookup: bad reply: " + err.Error()}
	}
	for _, b := range res.Buckets {
		if b.Name == h.cfg.Bucket {
			return true, o
		}
	}
	return false, o
}

// createBucket creates the bucket, with infinite retention, in the org
// whose ID it looks up first (GET /api/v2/orgs?org=, POST
// /api/v2/buckets).
func (h *influxHTTP) createBucket(ctx context.Context) Outcome {
	r := h.do(ctx, http.MethodGet, endpoint(h.base, "/api/v2/orgs", url.Values{"org": {h.cfg.Org}}), nil, nil)
	if o := Classify(r, time.Now()); o.Action != ActionOK {
		o.Message = "org lookup: " + o.Message
		if o.Action == ActionCreateDatabase {
			o.Action = ActionRetry
		}
		return o
	}
	var orgs struct {
		Orgs []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"orgs"`
	}
	if err := json.Unmarshal(r.Body, &orgs); err != nil {
		return Outcome{Action: ActionRetry, Status: r.Status, Message: "org lookup: bad reply: " + err.Error()}
	}
	id := ""
	for _, o := range orgs.Orgs {
		if o.Name == h.cfg.Org {
			id = o.ID
		}
	}
	if id == "" {
		return Outcome{Action: ActionRetry, Status: r.Status, Message: fmt.Sprintf("org %q not found", h.cfg.Org)}
	}
	body, _ := json.Marshal(map[string]any{"orgID": id, "name": h.cfg.Bucket, "retentionRules": []any{}})
	r = h.do(ctx, http.MethodPost, endpoint(h.base, "/api/v2/buckets", nil), http.Header{"Content-Type": {"application/json"}}, body)
	o := Classify(r, time.Now())
	if o.Action == ActionCreateDatabase {
		o.Action = ActionRetry
	}
	if o.Action != ActionOK {
		o.Message = "create bucket: " + o.Message
	}
	return o
}

// query runs one InfluxQL statement with the query in the URL, as the
// Python client does: GET for SHOW, POST for CREATE.
func (h *influxHTTP) query(ctx context.Context, method, q string) Reply {
	return h.do(ctx, method, endpoint(h.base, "/query", url.Values{"q": {q}}), nil, nil)
}

func (h *influxHTTP) do(ctx context.Context, method, u string, hdr http.Header, body []byte) Reply {
	ctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return Reply{Err: err}
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("Authorization", h.auth)
	resp, err := h.client.Do(req)
	if err != nil {
		return Reply{Err: err}
	}
	defer resp.Body.Close()
	// A reply whose body breaks off still has its status: a 204 to a write
	// means the data is stored; a truncated query result fails to decode.
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxReplyBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return Reply{Status: resp.StatusCode, Header: resp.Header, Body: data}
}

// queryResponse is the JSON reply of /query.
type queryResponse struct {
	Results []struct {
		Series []struct {
			Values [][]any `json:"values"`
		} `json:"series"`
		Error string `json:"error"`
	} `json:"results"`
	Error string `json:"error"`
}

// err returns the first error InfluxDB reported in the reply.
func (q *queryResponse) err() string {
	if q.Error != "" {
		return q.Error
	}
	for _, r := range q.Results {
		if r.Error != "" {
			return r.Error
		}
	}
	return ""
}

// showDatabases lists the databases (SHOW DATABASES). A reply that is not
// a usable list is reported as ActionRetry.
func (h *influxHTTP) showDatabases(ctx context.Context) ([]string, Outcome) {
	r := h.query(ctx, http.MethodGet, "SHOW DATABASES")
	o := Classify(r, time.Now())
	if o.Action != ActionOK {
		return nil, o
	}
	var res queryResponse
	if err := json.Unmarshal(r.Body, &res); err != nil {
		return nil, Outcome{Action: ActionRetry, Status: r.Status, Message: "SHOW DATABASES: bad reply: " + err.Error()}
	}
	if msg := res.err(); msg != "" {
		return nil, queryFailure(r.Status, "SHOW DATABASES: "+msg)
	}
	var names []string
	for _, rs := range res.Results {
		for _, s := range rs.Series {
			for _, v := range s.Values {
				if len(v) > 0 {
					if name, ok := v[0].(string); ok {
						names = append(names, name)
					}
				}
			}
		}
	}
	return names, o
}

// createDatabase runs CREATE DATABASE "<db>" with \ and " escaped.
func (h *influxHTTP) createDatabase(ctx context.Context, db string) Outcome {
	r := h.query(ctx, http.MethodPost, CreateDatabaseQuery(db))
	o := Classify(r, time.Now())
	if o.Action == ActionCreateDatabase { // "database not found" cannot apply here
		o.Action = ActionRetry
	}
	if o.Action != ActionOK {
		return o
	}
	var res queryResponse
	if json.Unmarshal(r.Body, &res) == nil {
		if msg := res.err(); msg != "" {
			return queryFailure(r.Status, "CREATE DATABASE: "+msg)
		}
	}
	return o
}

// CreateDatabaseQuery is the statement the Python agent sends:
// CREATE DATABASE "<db>" with backslashes and double quotes escaped.
func CreateDatabaseQuery(db string) string {
	return `CREATE DATABASE "` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(db) + `"`
}

// queryFailure classifies an error InfluxDB reported inside a 200 reply:
// authorization errors are ActionAuth, anything else ActionRetry.
func queryFailure(status int, msg string) Outcome {
	lower := strings.ToLower(msg)
	a := ActionRetry
	if strings.Contains(lower, "authoriz") || strings.Contains(lower, "authenticat") {
		a = ActionAuth
	}
	return Outcome{Action: a, Status: status, Message: msg}
}
