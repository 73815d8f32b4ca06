package vmtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/internal/proc"
)

// Binary is the executable Start looks up on PATH.
const Binary = "victoria-metrics"

// ErrNotInstalled is returned by Launch when the binary cannot be found.
var ErrNotInstalled = errors.New(needs + ": install it as root with " +
	"apt-get install -y victoria-metrics (`make test` installs it)")

const needs = "needs victoria-metrics (Debian package victoria-metrics)"

// Bounds on waiting for the process.
const (
	startTimeout   = 30 * time.Second
	stopTimeout    = 10 * time.Second
	requestTimeout = 30 * time.Second
)

// Server is one victoria-metrics process owned by a test (or by TestMain).
type Server struct {
	bin    string
	dir    string
	port   int
	url    string
	output *proc.Output
	client *http.Client

	mu      sync.Mutex
	cmd     *exec.Cmd     // the running process; nil after Kill or Stop
	exited  chan struct{} // closed when cmd has exited
	stopped bool          // Stop was called
}

// Start launches victoria-metrics for t and stops it in t.Cleanup. Without
// the binary it skips the test under -short and fails it otherwise.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath(Binary); err != nil {
		if testing.Short() {
			t.Skip(needs)
		}
		t.Fatalf("vmtest: %v", ErrNotInstalled)
	}
	s, err := Launch(context.Background())
	if err != nil {
		t.Fatalf("vmtest: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Launch starts a server without a testing.TB (for TestMain) and waits
// until GET /health answers 200. The caller must call Stop.
func Launch(ctx context.Context) (*Server, error) {
	bin, err := exec.LookPath(Binary)
	if err != nil {
		return nil, ErrNotInstalled
	}
	dir, err := os.MkdirTemp("", "ocsflux-vm-")
	if err != nil {
		return nil, fmt.Errorf("victoria-metrics temp dir: %w", err)
	}
	s := &Server{
		bin:    bin,
		dir:    dir,
		output: &proc.Output{},
		client: &http.Client{Transport: &http.Transport{Proxy: nil}},
	}
	// A port picked by listening on it can be taken by someone else before
	// victoria-metrics binds it; try a few times.
	for attempt := 0; attempt < 5; attempt++ {
		if s.port, err = proc.FreePort(); err != nil {
			break
		}
		s.url = "http://127.0.0.1:" + strconv.Itoa(s.port)
		if err = s.launch(ctx); err == nil || ctx.Err() != nil {
			break
		}
	}
	if err == nil {
		return s, nil
	}
	_ = os.RemoveAll(dir)
	return nil, err
}

// URL returns the HTTP base URL, http://127.0.0.1:<port>, without a
// trailing slash. It stays the same across Kill and Resume.
func (s *Server) URL() string { return s.url }

// Dir returns the temporary data directory (-storageDataPath), which Stop
// removes.
func (s *Server) Dir() string { return s.dir }

// Output returns what victoria-metrics wrote to stdout and stderr so far,
// over all its runs (Resume appends), for test failure messages.
func (s *Server) Output() string { return s.output.String() }

// Kill ends the process with SIGKILL, as a crash or power loss would, and
// keeps its data directory and port for Resume. Points not yet on disk
// are lost: call Persist before Kill for those that must survive (Flush is
// not enough). Kill on a stopped or killed server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	select {
	case <-exited:
	case <-time.After(stopTimeout):
	}
}

// Resume starts the process again after Kill, on the same port with the
// same data, and waits until /health answers 200.
func (s *Server) Resume(ctx context.Context) error {
	s.mu.Lock()
	running, stopped := s.cmd != nil, s.stopped
	s.mu.Unlock()
	switch {
	case stopped:
		return errors.New("vmtest: Resume after Stop")
	case running:
		return errors.New("vmtest: Resume while running")
	}
	return s.launch(ctx)
}

// Stop ends the process (SIGTERM, then SIGKILL after 10 s) and removes the
// data directory. It may be called more than once.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	already := s.stopped
	s.stopped = true
	s.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			_ = cmd.Process.Kill()
			select {
			case <-exited:
			case <-time.After(stopTimeout):
			}
		}
	}
	if !already {
		s.client.CloseIdleConnections()
		_ = os.RemoveAll(s.dir)
	}
}

// Args returns the command-line flags victoria-metrics is started with.
func (s *Server) Args() []string {
	return []string{
		"-httpListenAddr=127.0.0.1:" + strconv.Itoa(s.port),
		"-storageDataPath=" + s.dir,
		// Keep points with old timestamps: rows older than the retention
		// are dropped at ingestion (the upper bound, now + 2 days, is fixed).
		"-retentionPeriod=100y",
		// Return the newest points too, not only those older than 30 s.
		"-search.latencyOffset=0s",
		"-search.disableCache",
		// With the cache off there is nothing to reset; this also silences
		// the warning logged when a point older than 5 minutes arrives.
		"-search.disableAutoCacheReset",
		// WARN rather than ERROR: dropped rows (timestamp outside the
		// retention or too far in the future) and rejected requests are
		// logged at WARN only, and they belong in a failing test's output.
		// Start-up and shutdown are silent at this level.
		"-loggerLevel=WARN",
	}
}

func (s *Server) launch(ctx context.Context) error {
	cmd := exec.Command(s.bin, s.Args()...)
	cmd.Stdout, cmd.Stderr = s.output, s.output
	cmd.Dir = s.dir
	// Own process group, so a Ctrl-C meant for the parent is not also
	// delivered to victoria-metrics before the parent can stop it in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start victoria-metrics: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		// /health alone could be answered by another server that took the
		// port; /flags names the data directory.
		if s.health(ctx) == nil && s.ours(ctx) {
			return nil
		}
		select {
		case <-exited:
			s.forget(cmd)
			return fmt.Errorf("victoria-metrics exited during start-up: %s", proc.Tail(s.Output(), 2000))
		case <-ctx.Done():
			s.Kill()
			return fmt.Errorf("victoria-metrics did not answer %s/health within %s: %s",
				s.url, startTimeout, proc.Tail(s.Output(), 2000))
		case <-tick.C:
		}
	}
}

// forget drops cmd (which has exited) as the current process.
func (s *Server) forget(cmd *exec.Cmd) {
	s.mu.Lock()
	if s.cmd == cmd {
		s.cmd = nil
	}
	s.mu.Unlock()
}

func (s *Server) health(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	code, body, err := s.get(ctx, "/health")
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("health: HTTP %d: %s", code, body)
	}
	return nil
}

// ours tells whether the server on the port is this one: its /flags
// list -storageDataPath="<our directory>".
func (s *Server) ours(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	code, body, err := s.get(ctx, "/flags")
	return err == nil && code == http.StatusOK &&
		bytes.Contains(body, []byte("-storageDataPath="+strconv.Quote(s.dir)+"\n"))
}

func (s *Server) get(ctx context.Context, pathQuery string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+pathQuery, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// Flush makes every point written so far searchable (GET
// /internal/force_flush) and fails the test if that does not answer 200.
func (s *Server) Flush(t testing.TB) {
	t.Helper()
	if err := s.FlushErr(context.Background()); err != nil {
		t.Fatalf("vmtest: %v\n%s", err, proc.Tail(s.Output(), 2000))
	}
}

// FlushErr is Flush that returns the error instead of failing, for use
// inside polling loops and callbacks.
func (s *Server) FlushErr(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	code, body, err := s.get(ctx, "/internal/force_flush")
	if err != nil {
		return fmt.Errorf("force flush: %w", err)
	}
	if code != http.StatusOK {
		return fmt.Errorf("force flush: HTTP %d: %s", code, bytes.TrimSpace(body))
	}
	return nil
}

// Persist writes every point written so far to disk, so that it survives
// Kill, and fails the test otherwise. Flush is not enough: it makes points
// searchable in memory, and victoria-metrics 1.79 moves them to disk only
// about 5 s later (its data flush interval, which that version cannot
// configure). Persist creates a snapshot, which flushes everything to disk,
// and deletes it again (the data stays).
func (s *Server) Persist(t testing.TB) {
	t.Helper()
	if err := s.PersistErr(context.Background()); err != nil {
		t.Fatalf("vmtest: %v\n%s", err, proc.Tail(s.Output(), 2000))
	}
}

// PersistErr is Persist that returns the error instead of failing.
func (s *Server) PersistErr(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	body, err := s.snapshotCall(ctx, "/snapshot/create")
	if err != nil {
		return err
	}
	var created struct {
		Snapshot string `json:"snapshot"`
	}
	if err := json.Unmarshal(body, &created); err != nil || created.Snapshot == "" {
		return fmt.Errorf("persist: /snapshot/create named no snapshot: %s", body)
	}
	_, err = s.snapshotCall(ctx, "/snapshot/delete?"+url.Values{"snapshot": {created.Snapshot}}.Encode())
	return err
}

// snapshotCall GETs a /snapshot/ endpoint and requires HTTP 200 with
// {"status":"ok"}; it returns the reply.
func (s *Server) snapshotCall(ctx context.Context, pathQuery string) ([]byte, error) {
	code, body, err := s.get(ctx, pathQuery)
	if err != nil {
		return nil, fmt.Errorf("persist: %s: %w", pathQuery, err)
	}
	body = bytes.TrimSpace(body)
	var st struct {
		Status string `json:"status"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &st) != nil || st.Status != "ok" {
		return nil, fmt.Errorf("persist: %s: HTTP %d: %s", pathQuery, code, body)
	}
	return body, nil
}

// Series is one time series read back from /api/v1/export.
type Series struct {
	// Metric holds the labels, the metric name under "__name__".
	Metric map[string]string
	// Values and Timestamps (Unix milliseconds) are in time order; samples
	// written more than once are all kept (there is no deduplication).
	// +Inf and -Inf are read as such; NaN samples are not exported.
	Values     []float64
	Timestamps []int64
}

// Name returns the metric name, Metric["__name__"].
func (s Series) Name() string { return s.Metric["__name__"] }

// Export returns the raw samples of every series matching the series
// selector match (e.g. `meas_f1`, `{feed="a"}`, `{__name__=~"meas_.*"}`),
// sorted by name, then labels. Call Flush first for just-written points.
func (s *Server) Export(t testing.TB, match string) []Series {
	t.Helper()
	series, err := s.ExportErr(context.Background(), match)
	if err != nil {
		t.Fatalf("vmtest: %v\n%s", err, proc.Tail(s.Output(), 2000))
	}
	return series
}

// CountPoints returns the number of samples in all series matching match.
func (s *Server) CountPoints(t testing.TB, match string) int {
	t.Helper()
	n := 0
	for _, sr := range s.Export(t, match) {
		n += len(sr.Values)
	}
	return n
}

// ExportErr is Export that returns the error instead of failing, for use
// inside polling loops and callbacks.
func (s *Server) ExportErr(ctx context.Context, match string) ([]Series, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	// The whole time range VictoriaMetrics accepts: from the epoch to two
	// days ahead (plus margin); the default end (now) can miss points of
	// the current second and points slightly in the future.
	v := url.Values{
		"match[]": {match},
		"start":   {"0"},
		"end":     {strconv.FormatInt(time.Now().Add(72*time.Hour).Unix(), 10)},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/api/v1/export?"+v.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", match, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("export %s: HTTP %d: %s", match, resp.StatusCode, bytes.TrimSpace(body))
	}
	byKey := map[string]*Series{}
	r := bufio.NewReader(resp.Body)
	for {
		line, err := r.ReadBytes('\n')
		if line = bytes.TrimSpace(line); len(line) > 0 {
			sr, perr := parseExportLine(line)
			if perr != nil {
				return nil, fmt.Errorf("export %s: %w: %s", match, perr, proc.Tail(string(line), 300))
			}
			// A series can come in more than one line (one per block).
			k := labelKey(sr.Metric)
			if old, ok := byKey[k]; ok {
				old.Values = append(old.Values, sr.Values...)
				old.Timestamps = append(old.Timestamps, sr.Timestamps...)
			} else {
				byKey[k] = &sr
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", match, err)
		}
	}
	out := make([]Series, 0, len(byKey))
	for _, sr := range byKey {
		sortByTime(sr)
		out = append(out, *sr)
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := out[i].Name(), out[j].Name(); a != b {
			return a < b
		}
		return labelKey(out[i].Metric) < labelKey(out[j].Metric)
	})
	return out, nil
}

// parseExportLine decodes one JSON line of /api/v1/export. VictoriaMetrics
// writes infinite values as bare +Inf and -Inf, which is not JSON; they are
// quoted before decoding.
func parseExportLine(line []byte) (Series, error) {
	line = quoteNonFinite(line)
	var raw struct {
		Metric     map[string]string `json:"metric"`
		Values     []exportFloat     `json:"values"`
		Timestamps []int64           `json:"timestamps"`
	}
	if err := json.Unmarshal(line, &raw); err != nil {
		return Series{}, err
	}
	if len(raw.Values) != len(raw.Timestamps) {
		return Series{}, fmt.Errorf("%d values but %d timestamps", len(raw.Values), len(raw.Timestamps))
	}
	sr := Series{Metric: raw.Metric, Values: make([]float64, len(raw.Values)), Timestamps: raw.Timestamps}
	if sr.Metric == nil {
		sr.Metric = map[string]string{}
	}
	for i, v := range raw.Values {
		sr.Values[i] = float64(v)
	}
	return sr, nil
}

// quoteNonFinite quotes the tokens of the "values" array that are not JSON
// numbers. Inside JSON strings a quote is escaped, so the first unescaped
// `"values":[` is the array itself, and the array holds only numbers.
func quoteNonFinite(line []byte) []byte {
	const key = `"values":[`
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return line
	}
	start := i + len(key)
	n := bytes.IndexByte(line[start:], ']')
	if n < 0 {
		return line
	}
	arr := line[start : start+n]
	if !bytes.ContainsAny(arr, "IN") {
		return line
	}
	toks := bytes.Split(arr, []byte(","))
	for j, tok := range toks {
		switch string(bytes.TrimSpace(tok)) {
		case "+Inf", "-Inf", "Inf", "NaN":
			toks[j] = []byte(strconv.Quote(string(bytes.TrimSpace(tok))))
		}
	}
	out := make([]byte, 0, len(line)+16)
	out = append(out, line[:start]...)
	out = append(out, bytes.Join(toks, []byte(","))...)
	return append(out, line[start+n:]...)
}

type exportFloat float64

func (f *exportFloat) UnmarshalJSON(b []byte) error {
	s := string(b)
	switch {
	case s == "null":
		*f = exportFloat(math.NaN())
		return nil
	case strings.HasPrefix(s, `"`):
		u, err := strconv.Unquote(s)
		if err != nil {
			return err
		}
		s = u
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return err
	}
	*f = exportFloat(v)
	return nil
}

func labelKey(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(strconv.Quote(k))
		b.WriteByte('=')
		b.WriteString(strconv.Quote(m[k]))
		b.WriteByte(',')
	}
	return b.String()
}

func sortByTime(sr *Series) {
	idx := make([]int, len(sr.Timestamps))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return sr.Timestamps[idx[a]] < sr.Timestamps[idx[b]] })
	ts := make([]int64, len(idx))
	vs := make([]float64, len(idx))
	for i, j := range idx {
		ts[i], vs[i] = sr.Timestamps[j], sr.Values[j]
	}
	sr.Timestamps, sr.Values = ts, vs
}
