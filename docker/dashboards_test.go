package docker_test

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/influxdb1-client/models"

	"github.com/ocsflux/ocsflux/internal/influxtest"
)

// demoLines is ten minutes of OCS-shaped data ending now: two
// FakeDataAgents as in reference-output.md §6, an agent with integer,
// boolean and string fields beside floats, and the publisher's own
// statistics feed with every counter increasing.
func demoLines(now time.Time) string {
	var b strings.Builder
	const n = 120 // one sample every 5 s
	// Aligned to GROUP BY time(10s) buckets, so each bucket holds two samples.
	start := now.Add(-10 * time.Minute).Truncate(10 * time.Second)
	for i := range n {
		ts := start.Add(time.Duration(i) * 5 * time.Second).UnixNano()
		for a, agent := range []string{"observatory.fake-data1", "observatory.fake-data2"} {
			fmt.Fprintf(&b, "%s,feed=false_temperatures ", agent)
			for c := range 4 {
				if c > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "channel_%02d=%v", c, 0.1+0.001*float64((i+c+a)%7)+1e-9)
			}
			fmt.Fprintf(&b, " %d\n", ts)
		}
		fmt.Fprintf(&b, "observatory.ls240,feed=temperatures t_1=%v,count=%di,ok=%v,mode=\"auto\" %d\n",
			1.5+float64(i%3), i, i%2 == 0, ts)

		// Counters grow by known steps (points_received by 10 per 5 s = 2/s).
		fmt.Fprintf(&b, "observatory.influxagent,feed=ocsflux_stats "+
			"points_received=%di,points_written=%di,points_rejected=%di,points_dropped=%di,"+
			"batches_written=%di,write_errors=%di,bytes_sent=%di,dead_lettered=%di,events_dropped=%di,"+
			"points_pending=%di,last_write_latency_s=%v,spool_bytes=%di,spool_segments=%di,spool_oldest_s=%d %d\n",
			10*i, 9*i, i/2, i/3, i, i/10, 1000*i, i/20, i/30,
			i%7, 0.01+0.001*float64(i%5), 4096*(i%3), i%3, map[bool]int64{true: 0, false: now.Unix() - 60}[i%3 == 0],
			ts)
	}
	return b.String()
}

// grafanaRegexEscape escapes a variable value as Grafana's InfluxDB data
// source does inside a /regex/ (@grafana/data escapeRegex).
func grafanaRegexEscape(s string) string {
	return regexp.MustCompile(`[\\^$*+?.()|\[\]{}/]`).ReplaceAllString(s, `\$0`)
}

// varValue is a template variable's selection: one value, several, or All
// (the variable's allValue).
type varValue struct {
	values []string
	all    bool
}

func one(v string) varValue     { return varValue{values: []string{v}} }
func many(v ...string) varValue { return varValue{values: v} }
func allOf() varValue           { return varValue{all: true} }

// interpolate renders a dashboard query as Grafana sends it to InfluxDB:
// $timeFilter and $__interval as the backend renders them, variables
// regex-escaped (multi values as (a|b), All as the variable's allValue).
func interpolate(t *testing.T, q string, vars map[string]varValue, allValues map[string]string, from, to time.Time) string {
	t.Helper()
	ref := regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)
	var bad []string
	out := ref.ReplaceAllStringFunc(q, func(m string) string {
		name := ref.FindStringSubmatch(m)[1]
		switch name {
		case "timeFilter":
			return fmt.Sprintf("time >= %dms and time <= %dms", from.UnixMilli(), to.UnixMilli())
		case "__interval":
			return "10s"
		}
		v, ok := vars[name]
		if !ok {
			bad = append(bad, name)
			return m
		}
		if v.all {
			av, ok := allValues[name]
			if !ok {
				t.Fatalf("variable %s selected as All has no allValue", name)
			}
			return av
		}
		esc := make([]string, len(v.values))
		for i, s := range v.values {
			esc[i] = grafanaRegexEscape(s)
		}
		if len(esc) == 1 {
			return esc[0]
		}
		return "(" + strings.Join(esc, "|") + ")"
	})
	if len(bad) > 0 {
		t.Fatalf("query %q uses variables %v that the scenario does not set", q, bad)
	}
	return out
}

// variableValues returns the values Grafana lists for a variable query's
// result: the second column (value) of SHOW TAG VALUES, else the first.
func variableValues(query string, rows []models.Row) []string {
	col := 0
	if strings.Contains(strings.ToLower(query), "show tag values") {
		col = 1
	}
	var out []string
	for _, r := range rows {
		for _, v := range r.Values {
			if len(v) <= col {
				continue
			}
			if s, ok := v[col].(string); ok && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

// scenario is one selection of a dashboard's variables, and what its
// variable queries must then list.
type scenario struct {
	vars      map[string]varValue
	mustList  map[string][]string // variable -> values its query must return
	mustNotIn map[string][]string // variable -> values its query must not return
}

// TestDashboardQueriesOnInfluxDB runs every InfluxQL query of the shipped
// dashboards, interpolated as Grafana would, against a real influxd holding
// demo-like data, and requires rows with a value in every column.
func TestDashboardQueriesOnInfluxDB(t *testing.T) {
	srv := influxtest.Start(t)
	const db = "ocs_feeds"
	srv.CreateDatabase(t, db)
	now := time.Now()
	srv.Write(t, db, demoLines(now))
	from, to := now.Add(-time.Hour), now.Add(time.Minute)

	scenarios := map[string][]scenario{
		"ocs-feeds": {
			{
				vars: map[string]varValue{"agent": one("observatory.fake-data1"), "feed": allOf(), "field": allOf()},
				mustList: map[string][]string{
					"agent": {"observatory.fake-data1", "observatory.fake-data2", "observatory.ls240"},
					"feed":  {"false_temperatures"},
					"field": {"channel_00", "channel_03"},
				},
				mustNotIn: map[string][]string{"feed": {"temperatures"}, "field": {"t_1"}},
			},
			{
				vars: map[string]varValue{
					"agent": many("observatory.fake-data1", "observatory.fake-data2"),
					"feed":  one("false_temperatures"), "field": many("channel_00", "channel_01"),
				},
				mustList: map[string][]string{"feed": {"false_temperatures"}, "field": {"channel_00"}},
			},
			{
				// An agent with float, integer, boolean and string fields.
				vars: map[string]varValue{"agent": one("observatory.ls240"), "feed": allOf(), "field": allOf()},
				mustList: map[string][]string{
					"feed": {"temperatures"}, "field": {"t_1", "count", "ok", "mode"},
				},
			},
		},
		"ocsflux-health": {
			{
				vars:      map[string]varValue{"publisher": one("observatory.influxagent")},
				mustList:  map[string][]string{"publisher": {"observatory.influxagent"}},
				mustNotIn: map[string][]string{"publisher": {"observatory.fake-data1", "observatory.ls240"}},
			},
		},
	}

	seen := map[string]bool{}
	for _, d := range loadDashboards(t) {
		uid, _ := d.JSON["uid"].(string)
		scs, ok := scenarios[uid]
		if !ok {
			t.Errorf("dashboard %s (%s) has no test scenario: add one here", uid, d.Name)
			continue
		}
		seen[uid] = true
		allValues := map[string]string{}
		for _, v := range variables(d.JSON) {
			if av, ok := v["allValue"].(string); ok && av != "" {
				allValues[v["name"].(string)] = av
			}
		}
		for i, sc := range scs {
			for _, q := range queries(t, d) {
				name := fmt.Sprintf("%s/%d/%s", uid, i, q.Where)
				t.Run(name, func(t *testing.T) {
					iq := interpolate(t, q.Query, sc.vars, allValues, from, to)
					rows, err := srv.QueryRowsErr(t.Context(), db, iq)
					if err != nil {
						t.Fatalf("%s\nInfluxDB: %v", iq, err)
					}
					if q.Var != "" {
						got := variableValues(iq, rows)
						for _, want := range sc.mustList[q.Var] {
							if !slices.Contains(got, want) {
								t.Errorf("%s\nlists %q, want it to include %q", iq, got, want)
							}
						}
						for _, not := range sc.mustNotIn[q.Var] {
							if slices.Contains(got, not) {
								t.Errorf("%s\nlists %q, which must not include %q", iq, got, not)
							}
						}
						if len(got) == 0 {
							t.Errorf("%s\nlists nothing", iq)
						}
						return
					}
					checkRows(t, iq, rows)
				})
			}
		}
	}
	for uid := range scenarios {
		if !seen[uid] {
			t.Errorf("no dashboard with uid %s was found", uid)
		}
	}
}

// checkRows requires at least one series with rows, and for every column a
// non-null value in some series: a misspelt field comes back as an all-null
// column. (A FROM regex over measurements with different fields gives each
// series the union of the columns, so one series alone may be all null in
// a column.)
func checkRows(t *testing.T, q string, rows []models.Row) {
	t.Helper()
	if len(rows) == 0 {
		t.Errorf("%s\nreturned no series", q)
		return
	}
	nonNull := map[string]bool{}
	var cols []string
	for _, r := range rows {
		if len(r.Values) == 0 {
			t.Errorf("%s\nseries %s has no rows", q, r.Name)
			continue
		}
		for ci, col := range r.Columns {
			if !slices.Contains(cols, col) {
				cols = append(cols, col)
			}
			for _, v := range r.Values {
				nonNull[col] = nonNull[col] || v[ci] != nil
			}
		}
	}
	for _, col := range cols {
		if !nonNull[col] {
			t.Errorf("%s\ncolumn %q is null in every row of every series", q, col)
		}
	}
}

// TestHealthRatesAreRates checks the unit of the health dashboard's rate
// panel on known data: points_received grows by 10 every 5 s, so its rate
// must read 2 points per second, and the range increase must equal the
// counter's growth inside the range.
func TestHealthRatesAreRates(t *testing.T) {
	srv := influxtest.Start(t)
	const db = "ocs_feeds"
	srv.CreateDatabase(t, db)
	now := time.Now()
	srv.Write(t, db, demoLines(now))
	from, to := now.Add(-time.Hour), now.Add(time.Minute)
	vars := map[string]varValue{"publisher": one("observatory.influxagent")}

	var rateQ, lostQ string
	for _, d := range loadDashboards(t) {
		if d.JSON["uid"] != "ocsflux-health" {
			continue
		}
		for _, q := range queries(t, d) {
			switch {
			case strings.Contains(q.Query, `non_negative_derivative(max("points_received"), 1s)`):
				rateQ = q.Query
			case strings.Contains(q.Query, `non_negative_difference(max("points_rejected"))`):
				lostQ = q.Query
			}
		}
	}
	if rateQ == "" || lostQ == "" {
		t.Fatalf("health dashboard lacks the points rate panel (%q) or the lost-points panel (%q)", rateQ, lostQ)
	}

	iq := interpolate(t, rateQ, vars, nil, from, to)
	rows := srv.QueryRows(t, db, iq)
	checkRows(t, iq, rows)
	for _, r := range rows {
		ci := slices.Index(r.Columns, "received")
		if ci < 0 {
			t.Fatalf("%s\ncolumns %q, want a column named received", iq, r.Columns)
		}
		for _, v := range r.Values {
			if v[ci] == nil {
				continue
			}
			f, err := v[ci].(json.Number).Float64()
			if err != nil || math.Abs(f-2) > 1e-9 {
				t.Errorf("%s\nreceived rate %v at %v, want 2 points/s", iq, v[ci], v[0])
			}
		}
	}

	// points_rejected = i/2 over i = 0..119: the first 10 s bucket holds
	// max 0 (i = 0, 1), the last max 59 (i = 118, 119): increase 59.
	iq = interpolate(t, lostQ, vars, nil, from, to)
	rows = srv.QueryRows(t, db, iq)
	checkRows(t, iq, rows)
	ci := slices.Index(rows[0].Columns, "points_rejected")
	if ci < 0 {
		t.Fatalf("%s\ncolumns %q, want points_rejected", iq, rows[0].Columns)
	}
	if got := rows[0].Values[0][ci]; got != json.Number("59") {
		t.Errorf("%s\npoints_rejected increase %v, want 59", iq, got)
	}
}

// TestHealthCoversStats checks that every field of the ocsflux_stats feed
// is shown by at least one panel of the health dashboard.
func TestHealthCoversStats(t *testing.T) {
	fields := []string{
		// cumulative counters
		"points_received", "points_written", "points_rejected", "points_dropped",
		"batches_written", "write_errors", "bytes_sent", "dead_lettered", "events_dropped",
		// gauges
		"points_pending", "last_write_latency_s", "spool_bytes", "spool_segments", "spool_oldest_s",
	}
	var all strings.Builder
	found := false
	for _, d := range loadDashboards(t) {
		if d.JSON["uid"] != "ocsflux-health" {
			continue
		}
		found = true
		for _, q := range queries(t, d) {
			all.WriteString(q.Query + "\n")
		}
	}
	if !found {
		t.Fatalf("no dashboard with uid ocsflux-health")
	}
	for _, f := range fields {
		if !strings.Contains(all.String(), `"`+f+`"`) {
			t.Errorf("no health dashboard query reads the stats field %s", f)
		}
	}
}
