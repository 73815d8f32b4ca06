package influxdb

import (
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/ocsflux/ocsflux/feeds"
	"github.com/ocsflux/ocsflux/publisher"
)

// Bounds of the problem log.
const (
	// problemLogInterval is the shortest time between two reports of the
	// data dropped by the decoder.
	problemLogInterval = 10 * time.Second
	// maxProblemKeys bounds the distinct agent/feed/block/field/reason
	// entries kept between two reports; beyond it problems are only
	// counted.
	maxProblemKeys = 256
	// maxProblemLines is the most entries logged per report.
	maxProblemLines = 20
)

// problemKey identifies one kind of problem: what was dropped, where and
// why. Bad events (undecodable feed events) have only Topic and Reason.
type problemKey struct {
	Topic                     string
	Agent, Feed, Block, Field string
	Scope                     feeds.Scope
	Reason                    string
}

type problemEntry struct {
	count   int    // things of Scope dropped (events for bad events)
	points  int    // samples lost entirely
	example string // the first occurrence, as feeds.Problem.String or the error
}

// problemLog aggregates what the feed handler had to drop, so that a
// misbehaving publisher costs one log report per interval, naming agent,
// feed, block and field, however many events it sends. add is called from
// the WAMP receive goroutine and only takes a lock; flush logs.
type problemLog struct {
	mu       sync.Mutex
	entries  map[problemKey]*problemEntry
	overflow int // problems not kept because the map was full
	next     time.Time
}

// Every name kept and logged is cut to 200 bytes (publisher.ShortName):
// a hostile feed's megabyte field name costs 200 bytes of memory and log.
func (l *problemLog) addProblem(p feeds.Problem) {
	short := publisher.ShortName
	k := problemKey{Agent: short(p.Agent), Feed: short(p.Feed), Block: short(p.Block), Field: short(p.Field),
		Scope: p.Scope, Reason: short(p.Reason)}
	l.add(k, p.Count, p.Points, func() string { return short(p.String()) })
}

func (l *problemLog) addBadEvent(topic string, err error) {
	l.add(problemKey{Topic: publisher.ShortName(topic), Reason: "bad feed event"}, 1, 0,
		func() string { return publisher.ShortName(err.Error()) })
}

// add counts one problem; example is called only for a new entry.
func (l *problemLog) add(k problemKey, count, points int, example func() string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[k]; ok {
		e.count += count
		e.points += points
		return
	}
	if len(l.entries) >= maxProblemKeys {
		l.overflow += count
		return
	}
	if l.entries == nil {
		l.entries = make(map[problemKey]*problemEntry)
	}
	l.entries[k] = &problemEntry{count: count, points: points, example: example()}
}

// flush logs what was collected since the last report, unless the last
// report is less than problemLogInterval old (force: log anyway, at the
// end of a run).
func (l *problemLog) flush(log *slog.Logger, now time.Time, force bool) {
	l.mu.Lock()
	if len(l.entries) == 0 && l.overflow == 0 || !force && now.Before(l.next) {
		l.mu.Unlock()
		return
	}
	entries, overflow := l.entries, l.overflow
	l.entries, l.overflow = nil, 0
	l.next = now.Add(problemLogInterval)
	l.mu.Unlock()

	keys := make([]problemKey, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keyLess(keys[i], keys[j]) })
	for i, k := range keys {
		if i == maxProblemLines {
			rest := 0
			for _, k := range keys[i:] {
				rest += entries[k].count
			}
			log.Warn("more feed data dropped", "kinds", len(keys)-i, "count", rest)
			break
		}
		e := entries[k]
		if k.Topic != "" {
			log.Warn("feed events dropped: cannot decode them", "topic", k.Topic, "events", e.count, "first", e.example)
			continue
		}
		args := []any{"feed_agent", k.Agent, "feed", k.Feed}
		if k.Block != "" {
			args = append(args, "block", k.Block)
		}
		if k.Field != "" {
			args = append(args, "field", k.Field)
		}
		args = append(args, "dropped", k.Scope.String(), "count", e.count, "points_lost", e.points,
			"reason", k.Reason, "first", e.example)
		log.Warn("feed data dropped", args...)
	}
	if overflow > 0 {
		log.Warn("more feed data dropped (too many kinds to name)", "count", overflow)
	}
}

func keyLess(a, b problemKey) bool {
	switch {
	case a.Topic != b.Topic:
		return a.Topic < b.Topic
	case a.Agent != b.Agent:
		return a.Agent < b.Agent
	case a.Feed != b.Feed:
		return a.Feed < b.Feed
	case a.Block != b.Block:
		return a.Block < b.Block
	case a.Field != b.Field:
		return a.Field < b.Field
	case a.Scope != b.Scope:
		return a.Scope < b.Scope
	}
	return a.Reason < b.Reason
}
