package agents

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ocsflux/ocsflux/feeds"
)

// FeedSpec declares a feed (OCS's register_feed).
type FeedSpec struct {
	// Name is the feed name; the topic is <address>.feeds.<Name>.
	Name string
	// Record marks a feed of structured data for recording (InfluxDB, the
	// Aggregator). Its messages are blocks, checked and buffered; other
	// feeds publish any serializable message unchanged.
	Record bool
	// AggParams is copied into every feed_info ({} if nil).
	AggParams map[string]any
	// BufferTime: a recorded feed sends what it accumulated when a publish
	// arrives at least BufferTime after the first buffered one (0: every
	// publish is sent at once). There is no timer, as in OCS; call Flush
	// when an op ends.
	BufferTime time.Duration
}

// Feed is a registered feed. Its methods are safe for concurrent use.
type Feed struct {
	a    *Agent
	info feeds.Info
	dict map[string]any // feed_info as sent; never mutated

	mu  sync.Mutex
	buf *feeds.Buffer // recorded feeds: OCS's checks and buffer_time
}

// RegisterFeed registers a feed. It may be called before or during Run.
// Feed names are unique per agent; "heartbeat" is the agent's own.
func (a *Agent) RegisterFeed(spec FeedSpec) (*Feed, error) {
	if spec.Name == "" || strings.ContainsAny(spec.Name, ". \t\r\n#") {
		return nil, fmt.Errorf("register feed %q on %s: a feed name must be one non-empty URI component", spec.Name, a.address)
	}
	if spec.BufferTime < 0 {
		return nil, fmt.Errorf("register feed %q on %s: negative buffer time", spec.Name, a.address)
	}
	if spec.Name == heartbeatFeed {
		return nil, fmt.Errorf("register feed %q on %s: the heartbeat feed is the agent's own", spec.Name, a.address)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.feedByName[spec.Name] != nil {
		return nil, fmt.Errorf("register feed %q on %s: already registered", spec.Name, a.address)
	}
	return a.addFeedLocked(spec)
}

func (a *Agent) addFeedLocked(spec FeedSpec) (*Feed, error) {
	var c safeCounter
	agg, _ := c.safe(spec.AggParams).(map[string]any)
	if agg == nil {
		agg = map[string]any{}
	}
	var class *string
	if a.cfg.AgentClass != "" {
		cl := a.cfg.AgentClass
		class = &cl
	}
	f := &Feed{
		a: a,
		info: feeds.Info{
			AgentAddress: a.address,
			AggParams:    agg,
			FeedName:     spec.Name,
			Address:      feeds.FeedAddress(a.address, spec.Name),
			Record:       spec.Record,
			SessionID:    a.sessionID,
			AgentClass:   class,
		},
	}
	f.dict = f.info.Wire()
	if spec.Record {
		buf, err := feeds.NewBuffer(feeds.BufferConfig{Info: f.info, BufferTime: spec.BufferTime})
		if err != nil {
			return nil, fmt.Errorf("register feed %q on %s: %w", spec.Name, a.address, err)
		}
		f.buf = buf
	}
	a.feeds = append(a.feeds, f)
	a.feedByName[spec.Name] = f
	return f, nil
}

// Info returns the feed's feed_info. AggParams must not be modified.
func (f *Feed) Info() feeds.Info { return f.info }

// Topic returns the feed's topic, <address>.feeds.<name>.
func (f *Feed) Topic() string { return f.info.Address }

func (f *Feed) infoDict() map[string]any { return f.dict }

// send publishes one feed event: a single argument, [message, feed_info].
func (f *Feed) send(message any) error {
	if err := f.a.publish(f.info.Address, []any{[]any{message, f.dict}}); err != nil {
		return fmt.Errorf("feed %s: %w", f.info.Address, err)
	}
	return nil
}

// Publish publishes a message as OCS's publish_to_feed does. For a feed
// without Record the message (any serializable value) is sent at once,
// unchanged. For a recorded feed it must be a map in one of OCS's two
// shapes, {"block_name": b, "timestamp": t, "data": {field: value}} or
// {"block_name": b, "timestamps": [t...], "data": {field: [value...]}};
// it is checked and buffered like PublishSample and PublishBlock.
func (f *Feed) Publish(message any) error {
	if !f.info.Record {
		return f.send(message)
	}
	m, ok := normalize(message).(map[string]any)
	if !ok {
		return fmt.Errorf("feed %s: a recorded feed needs a block message, got %s", f.info.Address, pyTypeName(normalize(message)))
	}
	block, _ := m["block_name"].(string)
	data, _ := m["data"].(map[string]any)
	if data == nil {
		return fmt.Errorf("feed %s: message has no 'data' object", f.info.Address)
	}
	if ts, ok := m["timestamp"]; ok {
		t, ok := pyNumber(ts)
		if !ok {
			return fmt.Errorf("feed %s: block %q: timestamp is not a number", f.info.Address, block)
		}
		tf, _ := t.Float64()
		return f.PublishSample(block, tf, data)
	}
	if ts, ok := m["timestamps"].([]any); ok {
		times := make([]float64, len(ts))
		for i, v := range ts {
			t, ok := pyNumber(v)
			if !ok {
				return fmt.Errorf("feed %s: block %q: timestamp %d is not a number", f.info.Address, block, i)
			}
			times[i], _ = t.Float64()
		}
		return f.PublishBlock(block, times, data)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ks := make([]any, len(keys))
	for i, k := range keys {
		ks[i] = k
	}
	return fmt.Errorf("feed %s: Invalid message when record=True.  keys=dict_keys(%s)", f.info.Address, pyRepr(ks))
}

// PublishSample adds one sample of a block to a recorded feed: one
// timestamp (Unix seconds) and one value per field. Values must be float,
// integer, bool or string; field names must follow OCS's rules. With
// buffer_time 0 the sample is sent at once.
func (f *Feed) PublishSample(block string, timestamp float64, data map[string]any) error {
	if f.buf == nil {
		return fmt.Errorf("feed %s: PublishSample needs a recorded feed", f.info.Address)
	}
	vals := make(map[string]feeds.Value, len(data))
	for k, v := range data {
		val, err := sampleValue(v)
		if err != nil {
			return fmt.Errorf("feed %s: block %q: field %q: %w", f.info.Address, block, k, err)
		}
		vals[k] = val
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	msg, due, err := f.buf.AddSample(f.a.now(), feeds.Sample{BlockName: block, Timestamp: timestamp, Data: vals})
	if err != nil || !due {
		return err
	}
	return f.send(msg.Wire())
}

// PublishBlock adds several samples of a block to a recorded feed: data
// maps each field to a slice ([]float64, []int64, []any, ...) with one
// value per timestamp.
func (f *Feed) PublishBlock(block string, timestamps []float64, data map[string]any) error {
	if f.buf == nil {
		return fmt.Errorf("feed %s: PublishBlock needs a recorded feed", f.info.Address)
	}
	names := make([]string, 0, len(data))
	for k := range data {
		names = append(names, k)
	}
	sort.Strings(names)
	b := feeds.Block{Name: block, Timestamps: append([]float64(nil), timestamps...), Fields: make([]feeds.Field, len(names))}
	for i, k := range names {
		list, ok := normalize(data[k]).([]any)
		if !ok {
			return fmt.Errorf("feed %s: block %q: field %q: a multi-sample block needs a list per field", f.info.Address, block, k)
		}
		vals := make([]feeds.Value, len(list))
		for j, e := range list {
			val, err := sampleValue(e)
			if err != nil {
				return fmt.Errorf("feed %s: block %q: field %q: value %d: %w", f.info.Address, block, k, j, err)
			}
			vals[j] = val
		}
		b.Fields[i] = feeds.Field{Name: k, Values: vals}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	msg, due, err := f.buf.AddBlock(f.a.now(), b)
	if err != nil || !due {
		return err
	}
	return f.send(msg.Wire())
}

// Flush sends what a recorded feed has buffered (nothing if empty). The
// buffer is emptied even when sending fails, as in OCS.
func (f *Feed) Flush() error {
	if f.buf == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	msg, due := f.buf.Flush()
	if !due {
		return nil
	}
	return f.send(msg.Wire())
}

// sampleValue checks one recorded value (float, int, bool or str, as OCS's
// verify_message_data_type) and converts it.
func sampleValue(v any) (feeds.Value, error) {
	switch x := normalize(v).(type) {
	case float64:
		return feeds.Float(x), nil
	case int64:
		return feeds.Int(x), nil
	case bool:
		return feeds.Bool(x), nil
	case string:
		return feeds.String(x), nil
	case uint64:
		return feeds.Value{}, fmt.Errorf("integer %d does not fit in 64 bits", x)
	case nil:
		return feeds.Value{}, errors.New("message 'data' block contains invalid data type: <class 'NoneType'>")
	default:
		return feeds.Value{}, fmt.Errorf("message 'data' block contains invalid data type: <class '%s'>", pyTypeName(x))
	}
}
