package loadgen

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the result of a run: its parameters and one Step per rate.
type Report struct {
	RunID         string    `json:"run_id"`
	Started       time.Time `json:"started"`
	Params        Params    `json:"params"`
	LatencyMethod string    `json:"latency_method"`
	CPUMethod     string    `json:"cpu_method,omitempty"`
	Steps         []Step    `json:"steps"`
}

// Params are the run's parameters as the report shows them.
type Params struct {
	Agents            int     `json:"agents"`
	SamplesPerMessage int     `json:"samples_per_message"`
	FloatFields       int     `json:"float_fields"`
	Mix               bool    `json:"mix"`
	FieldsPerPoint    int     `json:"fields_per_point"`
	Rates             []int64 `json:"rates"`
	StepDurationS     float64 `json:"step_duration_s"`
	SettleMaxS        float64 `json:"settle_max_s"`
	PollMS            float64 `json:"poll_ms"`
	TickMS            float64 `json:"tick_ms"`
	Serialization     string  `json:"serialization"`
	Router            string  `json:"router"`
	Realm             string  `json:"realm"`
	AddressRoot       string  `json:"address_root"`
	Measurements      string  `json:"measurements"`
	InfluxURL         string  `json:"influx_url"`
	Database          string  `json:"database"`
	PublisherPID      *int    `json:"publisher_pid"`
	// Spawned describes what `ocsflux bench --spawn` started for the run
	// (nil otherwise); the command fills it in.
	Spawned *SpawnInfo `json:"spawned,omitempty"`
}

// SpawnInfo is what an Environment started.
type SpawnInfo struct {
	Router          string   `json:"router"`
	InfluxThrowaway bool     `json:"influxd_throwaway"`
	PublisherPID    int      `json:"publisher_pid"`
	PublisherArgs   []string `json:"publisher_args"`
}

// Step is the outcome of one rate step.
type Step struct {
	Step            int     `json:"step"`
	TargetRate      int64   `json:"target_rate"`
	Feed            string  `json:"feed"`
	Messages        int64   `json:"messages"`
	PointsPublished int64   `json:"points_published"`
	PointsFound     int64   `json:"points_found"`
	DeliveryPct     float64 `json:"delivery_pct"`
	// PublishS is the publishing window: the step duration, or longer if
	// the last batch finished late. AchievedRate is PointsPublished over it.
	PublishS     float64 `json:"publish_s"`
	AchievedRate float64 `json:"achieved_rate"`
	// SettleS is how long the bench waited after publishing for the count.
	SettleS float64 `json:"settle_s"`
	Latency Latency `json:"latency"`
	// The publisher's CPU share of one core over the publishing window;
	// its CPU time from the step's start to the end of settling per point
	// found; its largest RSS during the step. Null without a PID.
	CPUPercent    *float64 `json:"cpu_percent"`
	CPUUsPerPoint *float64 `json:"cpu_us_per_point"`
	RSSMaxMiB     *float64 `json:"rss_max_mib"`
	// RouterDroppedEvents is the router's dropped-event count during the
	// step (only for an embedded router).
	RouterDroppedEvents *uint64  `json:"router_dropped_events"`
	Notes               []string `json:"notes,omitempty"`
}

// Latency from publish to queryable, per message, in milliseconds. P50,
// P99 and Max are null when no message was seen.
type Latency struct {
	P50MS          *float64 `json:"p50_ms"`
	P99MS          *float64 `json:"p99_ms"`
	MaxMS          *float64 `json:"max_ms"`
	MessagesSeen   int      `json:"messages_seen"`
	MessagesUnseen int      `json:"messages_unseen"`
	Polls          int      `json:"polls"`
	PollErrors     int      `json:"poll_errors"`
	MeanQueryMS    float64  `json:"mean_query_ms"`
	// ResolutionMS is the poll interval plus the mean query round trip:
	// the figures are upper bounds late by at most about this much.
	ResolutionMS float64 `json:"resolution_ms"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func ptr[T any](v T) *T { return &v }

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report as an aligned table with a header saying
// what was run and a footer saying how latency and CPU were measured.
func (r *Report) WriteTable(w io.Writer) error {
	p := r.Params
	var b strings.Builder
	mix := ""
	if p.Mix {
		mix = " + int/bool/string"
	}
	fmt.Fprintf(&b, "ocsflux bench run %s: %d agents, messages of %d samples x %d float fields%s (%s), steps of %gs, settle <= %gs\n",
		r.RunID, p.Agents, p.SamplesPerMessage, p.FloatFields, mix, p.Serialization, p.StepDurationS, p.SettleMaxS)
	pub := "publisher pid not given (no CPU/RSS)"
	if p.PublisherPID != nil {
		pub = fmt.Sprintf("publisher pid %d", *p.PublisherPID)
	}
	fmt.Fprintf(&b, "router %s (realm %s), InfluxDB %s database %s, %s\n",
		p.Router, p.Realm, p.InfluxURL, p.Database, pub)
	fmt.Fprintf(&b, "measurements %s, tag feed=r<rate>_s<step>\n\n", p.Measurements)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "step\ttarget/s\tachieved/s\tpublished\tfound\tdelivery\tp50 ms\tp99 ms\tmax ms\tcpu %\tcpu us/pt\trss MiB\tdrops\t")
	for _, s := range r.Steps {
		fmt.Fprintf(tw, "%d\t%d\t%.0f\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			s.Step, s.TargetRate, s.AchievedRate, s.PointsPublished, s.PointsFound,
			fmt.Sprintf("%.2f%%", s.DeliveryPct),
			opt(s.Latency.P50MS, "%.1f"), opt(s.Latency.P99MS, "%.1f"), opt(s.Latency.MaxMS, "%.1f"),
			opt(s.CPUPercent, "%.1f"), opt(s.CPUUsPerPoint, "%.2f"), opt(s.RSSMaxMiB, "%.1f"),
			optUint(s.RouterDroppedEvents))
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	b.Reset()
	b.WriteString("\n")
	for _, s := range r.Steps {
		for _, n := range s.Notes {
			fmt.Fprintf(&b, "step %d: %s\n", s.Step, n)
		}
	}
	var res, q float64
	for _, s := range r.Steps {
		res, q = max(res, s.Latency.ResolutionMS), max(q, s.Latency.MeanQueryMS)
	}
	fmt.Fprintf(&b, "latency: publish -> queryable per message, InfluxDB polled every %gms (mean query %.1f ms): "+
		"upper bounds, resolution about %.0f ms. %s\n", p.PollMS, q, res, r.LatencyMethod)
	if r.CPUMethod != "" {
		fmt.Fprintf(&b, "cpu: %s\n", r.CPUMethod)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func opt(v *float64, format string) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf(format, *v)
}

func optUint(v *uint64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprint(*v)
}
