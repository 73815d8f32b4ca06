package loadgen_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/ocsflux/ocsflux/internal/loadgen"
)

func f(v float64) *float64 { return &v }

func sampleReport() *loadgen.Report {
	pid := 4242
	var drops uint64 = 3
	return &loadgen.Report{
		RunID: "ab12",
		Params: loadgen.Params{Agents: 8, SamplesPerMessage: 10, FloatFields: 10, FieldsPerPoint: 10,
			Rates: []int64{1000, 50000}, StepDurationS: 10, SettleMaxS: 10, PollMS: 20, TickMS: 10,
			Serialization: "msgpack", Router: "ws://127.0.0.1:8001/ws", Realm: "test_realm",
			AddressRoot: "observatory", InfluxURL: "http://127.0.0.1:8086", Database: "ocs_feeds", PublisherPID: &pid},
		LatencyMethod: "method.",
		CPUMethod:     "cpu method",
		Steps: []loadgen.Step{
			{Step: 1, TargetRate: 1000, Feed: "r1000_s1", Messages: 1000, PointsPublished: 10000, PointsFound: 10000,
				DeliveryPct: 100, PublishS: 10, AchievedRate: 1000,
				Latency:    loadgen.Latency{P50MS: f(12.34), P99MS: f(45.6), MaxMS: f(50), MessagesSeen: 1000, ResolutionMS: 21.5},
				CPUPercent: f(1.25), CPUUsPerPoint: f(0.5), RSSMaxMiB: f(20.5), RouterDroppedEvents: &drops},
			{Step: 2, TargetRate: 50000, Feed: "r50000_s2", Messages: 10, PointsPublished: 100, PointsFound: 0,
				Notes: []string{"something odd"}},
		},
	}
}

func TestWriteTable(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := strings.Split(out, "\n")
	var header, row1, row2 string
	for i, l := range lines {
		if strings.Contains(l, "target/s") {
			header, row1, row2 = l, lines[i+1], lines[i+2]
		}
	}
	if header == "" {
		t.Fatalf("no table header:\n%s", out)
	}
	// Right-aligned: every row ends where the header ends.
	if len(row1) != len(header) || len(row2) != len(header) {
		t.Errorf("rows not aligned with the header:\n%s\n%s\n%s", header, row1, row2)
	}
	for _, want := range []string{"1000", "10000", "100.00%", "12.3", "45.6", "50.0", "1.2", "0.50", "20.5", "3"} {
		if !strings.Contains(row1, want) {
			t.Errorf("row 1 lacks %q: %s", want, row1)
		}
	}
	if f := strings.Fields(row2); len(f) != 13 || f[6] != "-" || f[9] != "-" || f[12] != "-" {
		t.Errorf("row 2 should show - for what was not measured: %q", row2)
	}
	for _, want := range []string{"run ab12", "8 agents", "publisher pid 4242", "step 2: something odd",
		"polled every 20ms", "resolution about 22 ms", "method.", "cpu: cpu method"} {
		if !strings.Contains(out, want) {
			t.Errorf("table output lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		RunID  string           `json:"run_id"`
		Params map[string]any   `json:"params"`
		Steps  []map[string]any `json:"steps"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, buf.String())
	}
	if doc.RunID != "ab12" || len(doc.Steps) != 2 || doc.Params["publisher_pid"] != float64(4242) {
		t.Errorf("JSON: %s", buf.String())
	}
	s2 := doc.Steps[1]
	for _, k := range []string{"cpu_percent", "cpu_us_per_point", "rss_max_mib", "router_dropped_events"} {
		if v, ok := s2[k]; !ok || v != nil {
			t.Errorf("step 2 %s = %v (present %t), want null", k, v, ok)
		}
	}
	lat, _ := s2["latency"].(map[string]any)
	if v, ok := lat["p50_ms"]; !ok || v != nil {
		t.Errorf("step 2 latency.p50_ms = %v, want null", v)
	}
	if doc.Steps[0]["points_found"] != float64(10000) || doc.Steps[0]["router_dropped_events"] != float64(3) {
		t.Errorf("step 1: %v", doc.Steps[0])
	}
}
