package publisher

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Dead-letter defaults.
const (
	// DeadLetterFileName is the dead-letter file's name in the spool
	// directory when Config.DeadLetterFile is not set.
	DeadLetterFileName = "dead-letter.jsonl"
	// DefaultDeadLetterMaxBytes is the size at which the dead-letter file
	// is renamed to <file>.1 (replacing an older one) and a new one begun.
	DefaultDeadLetterMaxBytes = 64 << 20
	// maxDeadLetterError bounds the error text kept per dead letter.
	maxDeadLetterError = 512
)

// DeadLetter is one line of the dead-letter file (JSON lines): a point
// InfluxDB refused for good, with the names needed to find its source and
// the line itself, so that it can be corrected and written by hand.
type DeadLetter struct {
	// Time is the point's timestamp (omitted when the line has none that
	// can be read).
	Time time.Time `json:"time,omitzero"`
	// Agent is the measurement (the agent_address), Feed the feed tag.
	Agent string `json:"agent"`
	Feed  string `json:"feed"`
	// Field and Value name the refused field value when InfluxDB said
	// which one it was (a field type conflict); Type is the type sent and
	// ExistingType the type InfluxDB has for that field.
	Field        string `json:"field,omitempty"`
	Value        any    `json:"value,omitempty"`
	Type         string `json:"type,omitempty"`
	ExistingType string `json:"existing_type,omitempty"`
	// Reason is why the point was refused, Error InfluxDB's message.
	Reason Reason `json:"reason"`
	Error  string `json:"error,omitempty"`
	// Line is the line protocol sent, without its final newline.
	Line string `json:"line"`
	// At is when the point was dead-lettered.
	At time.Time `json:"dead_lettered_at"`
}

// deadLetterFile appends dead letters to a JSON-lines file, opened on the
// first write and rotated once past maxBytes.
type deadLetterFile struct {
	path     string
	maxBytes int64
	sync     bool
	log      *slog.Logger

	mu   sync.Mutex
	f    *os.File
	size int64
	buf  []byte
}

func newDeadLetterFile(cfg OutputConfig, log *slog.Logger) *deadLetterFile {
	if cfg.DeadLetterFile == "" {
		return nil
	}
	return &deadLetterFile{path: cfg.DeadLetterFile, maxBytes: cfg.DeadLetterMaxBytes,
		sync: cfg.SpoolSync == SpoolSyncEveryBatch, log: log}
}

// write appends the entries.
func (d *deadLetterFile) write(entries []DeadLetter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.buf = d.buf[:0]
	for i := range entries {
		b, err := json.Marshal(&entries[i])
		if err != nil {
			// A value JSON cannot hold (it cannot come from line
			// protocol): keep the line, without the value.
			e := entries[i]
			e.Value = fmt.Sprint(e.Value)
			if b, err = json.Marshal(&e); err != nil {
				return fmt.Errorf("dead letter: %w", err)
			}
		}
		d.buf = append(append(d.buf, b...), '\n')
	}
	if d.f != nil && d.size > 0 && d.size+int64(len(d.buf)) > d.maxBytes {
		_ = d.f.Close()
		d.f = nil
		if err := os.Rename(d.path, d.path+".1"); err != nil {
			d.log.Warn("cannot rotate the dead-letter file", "file", d.path, "err", err)
		}
	}
	if d.f == nil {
		if err := os.MkdirAll(filepath.Dir(d.path), 0o750); err != nil {
			return fmt.Errorf("dead-letter file: %w", err)
		}
		f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return fmt.Errorf("dead-letter file: %w", err)
		}
		fi, err := f.Stat()
		if err != nil {
			_ = f.Close()
			return fmt.Errorf("dead-letter file: %w", err)
		}
		d.f, d.size = f, fi.Size()
	}
	n, err := d.f.Write(d.buf)
	d.size += int64(n)
	if err != nil {
		return fmt.Errorf("dead-letter file: %w", err)
	}
	if d.sync {
		if err := d.f.Sync(); err != nil {
			return fmt.Errorf("dead-letter file: fsync: %w", err)
		}
	}
	return nil
}

func (d *deadLetterFile) close() error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return nil
	}
	err := d.f.Sync()
	if cerr := d.f.Close(); err == nil {
		err = cerr
	}
	d.f = nil
	return err
}

// DeadLetterStats counts the points dead-lettered for one measurement and
// field (Field is empty when InfluxDB refused the whole line) and reason.
type DeadLetterStats struct {
	Agent, Field string
	Reason       Reason
	Count        uint64
}

type deadKey struct {
	agent, field string
	reason       Reason
}

// deadCounts are the dead-letter counters, guarded by the publisher's mutex.
type deadCounts struct {
	total, errors uint64
	by            map[deadKey]uint64
	// conflicts are the (measurement, field, type sent) whose type
	// conflict has been logged.
	conflicts map[deadKey]bool
}

// maxLoggedConflicts bounds the memory of logged type conflicts, and
// maxDeadKeys the measurement/field/reason entries counted apart (the
// others are counted under otherNames).
const (
	maxLoggedConflicts = 10000
	maxDeadKeys        = 100
)

func (c *deadCounts) add(e *DeadLetter) {
	if c.by == nil {
		c.by = make(map[deadKey]uint64)
	}
	c.total++
	k := deadKey{ShortName(e.Agent), ShortName(e.Field), e.Reason}
	if _, ok := c.by[k]; !ok && len(c.by) >= maxDeadKeys {
		k = deadKey{agent: otherNames, reason: e.Reason}
	}
	c.by[k]++
}

// firstConflict reports whether a type conflict of this field and sent
// type has not been logged yet, and remembers it.
func (c *deadCounts) firstConflict(e *DeadLetter) bool {
	if c.conflicts == nil {
		c.conflicts = make(map[deadKey]bool)
	}
	k := deadKey{e.Agent, e.Field, Reason(e.Type)}
	if c.conflicts[k] || len(c.conflicts) >= maxLoggedConflicts {
		return false
	}
	c.conflicts[k] = true
	return true
}

func (c *deadCounts) list() []DeadLetterStats {
	out := make([]DeadLetterStats, 0, len(c.by))
	for k, n := range c.by {
		out = append(out, DeadLetterStats{Agent: k.agent, Field: k.field, Reason: k.reason, Count: n})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Agent != b.Agent {
			return a.Agent < b.Agent
		}
		if a.Field != b.Field {
			return a.Field < b.Field
		}
		return a.Reason < b.Reason
	})
	return out
}
