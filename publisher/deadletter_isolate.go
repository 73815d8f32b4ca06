package publisher

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/influxdata/influxdb1-client/models"
)

// refusedTries is how many times a request the server refuses with an
// unknown 4xx (ActionRefused) is sent before its lines are bisected.
const refusedTries = 3

// maxIsolateRequests bounds the requests spent on one batch to find the
// lines InfluxDB refuses; past it, the lines still in doubt are
// dead-lettered (not lost: the dead-letter file keeps them).
const maxIsolateRequests = 512

// span is the lines [lo, hi) of a batch.
type span struct{ lo, hi int }

func (s span) n() int { return s.hi - s.lo }

// delivery is what writing one batch achieved.
type delivery struct {
	stored int          // lines InfluxDB stored
	dead   []DeadLetter // lines refused for good
	failed bool         // a retryable failure stopped the delivery
	fail   Outcome      // that failure
	rest   []span       // lines neither stored nor dead-lettered (ascending)
	ok     int          // write requests InfluxDB accepted (fully or partly)
	okAt   time.Time    // when the last of them completed
}

// requestsLocked counts d's accepted write requests in the stats, in the
// same locked section as the lines they stored, so that Stats never shows
// a request without its points.
func (p *Output) requestsLocked(d *delivery) {
	p.st.batches += uint64(d.ok)
	if d.ok > 0 {
		p.st.lastWrite = d.okAt
		p.acceptedAt = d.okAt
	}
}

// progress reports whether some lines were resolved before a failure.
func (d *delivery) progress() bool { return d.stored > 0 || len(d.dead) > 0 }

// deliver writes the lines of a batch (buf, with line ends ends) and acts
// on every reply until each line is stored or dead-lettered, or a
// retryable failure stops it:
//
//   - 413: the lines are split in halves and resent; a single line that
//     is still too large is dead-lettered.
//   - partial write, field type conflict, unable to parse: InfluxDB kept
//     the good lines. The refused ones are found from its message (the
//     field, measurement and type of a conflict; the text of unparsable
//     lines) and from parsing the lines here; if they do not account for
//     every refused point, the lines are bisected and resent (resending a
//     stored point overwrites it with itself) until each refused line is
//     alone.
//   - database not found: the database is created (once) and the lines
//     resent.
//   - an unknown 4xx (ActionRefused): the lines are sent refusedTries
//     times in all, with backoff, then bisected; a line refused alone is
//     dead-lettered (ReasonRefused, with the status and message). The
//     server is taken to refuse everything (a misconfigured proxy, a wrong
//     API), nothing is dead-lettered and the delivery fails, to be retried
//     like a 5xx, when it accepted no request within acceptedWindow, or
//     when it accepted no request of the delivery and refused more than
//     one line alone (or the request budget ran out).
//
// The caller counts the dead letters (deadLetteredLocked) with the
// written lines, then writes them (writeDeadLetters). Only the Run
// goroutine calls deliver.
func (p *Output) deliver(ctx context.Context, buf []byte, ends []int) delivery {
	var d delivery
	stack := []span{{0, len(ends)}}
	requests, created, tries := 0, false, 0
	var refused []int // lines dead-lettered as ReasonRefused, at index refusedAt[i] of d.dead
	var refusedAt []int
	var lastRefusal Outcome
	for len(stack) > 0 {
		sp := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if requests >= maxIsolateRequests {
			if d.ok == 0 && len(refused) > 0 {
				return p.refusesAll(&d, refused, refusedAt, lastRefusal, append(stack, sp))
			}
			p.log.Warn("could not isolate the lines InfluxDB refuses within the request budget; dead-lettering the rest",
				"lines", sp.n(), "requests", requests)
			for i := sp.lo; i < sp.hi; i++ {
				d.dead = append(d.dead, describeLine(lineAt(buf, ends, i), Outcome{Message: "not isolated"}, nil))
			}
			continue
		}
		o := p.post(ctx, buf[lineStart(ends, sp.lo):ends[sp.hi-1]])
		requests++
		if o.Action == ActionOK || o.Action == ActionDropped {
			d.ok++
			d.okAt = time.Now()
		}
		if o.Action == ActionCreateDatabase && !created && !p.cfg.NoCreate {
			created = true
			co := p.http.createTarget(ctx)
			if co.Action == ActionOK {
				p.log.Warn("the " + p.http.target() + " was missing; created it")
				stack = append(stack, sp)
				continue
			}
			o = co
		}
		switch o.Action {
		case ActionOK:
			d.stored += sp.n()
		case ActionRefused:
			lastRefusal = o
			if sp.n() == len(ends) && !p.acceptedSince(d.okAt, time.Now().Add(-acceptedWindow)) {
				// Nothing written for a while: the server refuses
				// everything (a proxy, a wrong API), not this data.
				o.Action = ActionRetry
				return d.failAt(o, sp, stack)
			}
			if tries++; tries < refusedTries && sp.n() == len(ends) {
				if !sleepCtx(ctx, backoff(tries, p.cfg.RetryMin, p.cfg.RetryMax, o.RetryAfter)) {
					o.Action = ActionRetry
					return d.failAt(o, sp, stack)
				}
				stack = append(stack, sp)
				continue
			}
			if sp.n() > 1 {
				stack = pushHalves(stack, sp)
				continue
			}
			refused = append(refused, sp.lo)
			refusedAt = append(refusedAt, len(d.dead))
			dl := describeLine(lineAt(buf, ends, sp.lo), o, nil)
			dl.Reason, dl.Error = ReasonRefused, fmt.Sprintf("HTTP %d: %s", o.Status, o.Message)
			d.dead = append(d.dead, dl)
		case ActionSplit:
			if sp.n() > 1 {
				p.log.Info("InfluxDB refused a request as too large; splitting it", "points", sp.n())
				stack = pushHalves(stack, sp)
				continue
			}
			d.dead = append(d.dead, describeLine(lineAt(buf, ends, sp.lo), o, nil))
			d.dead[len(d.dead)-1].Reason = ReasonTooLarge
		case ActionDropped:
			bad, complete := refusedLines(buf, ends, sp, o)
			switch {
			case complete || sp.n() == 1 || o.Dropped == sp.n() && !truncated(o):
				// Every refused line is known (all of them, when
				// InfluxDB refused as many points as were sent).
				d.stored += p.resolveRefused(&d, buf, ends, sp, o, bad, complete || sp.n() == 1 && len(bad) == 1)
			default:
				stack = pushHalves(stack, sp)
			}
		default:
			return d.failAt(o, sp, stack)
		}
	}
	if d.ok == 0 && len(refused) > 1 {
		return p.refusesAll(&d, refused, refusedAt, lastRefusal, nil)
	}
	return d
}

// acceptedWindow: an unknown 4xx is taken for a refusal of the data (and
// bisected) only while the server has accepted a request within this
// window; otherwise the server is taken to refuse everything.
const acceptedWindow = time.Minute

// acceptedSince reports whether the server accepted a request (a write, or
// the start-up check) at or after since, okAt being the last one of the
// delivery under way.
func (p *Output) acceptedSince(okAt, since time.Time) bool {
	p.mu.Lock()
	at := p.acceptedAt
	p.mu.Unlock()
	return !okAt.Before(since) || !at.Before(since)
}

// refusesAll ends a delivery in which the server accepted no request and
// refused every line it was sent alone: it refuses everything, so nothing
// is dead-lettered. The refused lines (refused, dead letters at refusedAt)
// and the spans not sent yet are kept for retry, as after a 5xx.
func (p *Output) refusesAll(d *delivery, refused, refusedAt []int, o Outcome, unsent []span) delivery {
	p.log.Warn("the server refuses every line of a batch with the same unknown 4xx; keeping them for retry, not dead-lettering",
		"lines", len(refused), "status", o.Status, "message", o.Message)
	for i := len(refusedAt) - 1; i >= 0; i-- {
		d.dead = slices.Delete(d.dead, refusedAt[i], refusedAt[i]+1)
	}
	spans := slices.Clone(unsent)
	for _, l := range refused {
		spans = append(spans, span{l, l + 1})
	}
	slices.SortFunc(spans, func(a, b span) int { return a.lo - b.lo })
	d.rest = d.rest[:0]
	for _, s := range spans {
		if n := len(d.rest); n > 0 && d.rest[n-1].hi == s.lo {
			d.rest[n-1].hi = s.hi
		} else {
			d.rest = append(d.rest, s)
		}
	}
	d.failed, d.fail = true, o
	d.fail.Action = ActionRetry
	return *d
}

// failAt ends a delivery with a retryable failure o while sending sp,
// with the spans of stack still to send.
func (d *delivery) failAt(o Outcome, sp span, stack []span) delivery {
	d.failed, d.fail = true, o
	d.rest = append(d.rest, sp)
	for i := len(stack) - 1; i >= 0; i-- {
		d.rest = append(d.rest, stack[i])
	}
	return *d
}

// sleepCtx waits d, or less if ctx ends first (then it returns false).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// resolveRefused dead-letters the refused lines of sp: the identified ones
// when exact, else every line of sp. It returns the number of lines stored.
func (p *Output) resolveRefused(d *delivery, buf []byte, ends []int, sp span, o Outcome, bad []refusal, exact bool) int {
	if exact {
		for i := range bad {
			d.dead = append(d.dead, bad[i].letter)
		}
		return sp.n() - len(bad)
	}
	known := make(map[int]*refusal, len(bad))
	for i := range bad {
		known[bad[i].line] = &bad[i]
	}
	for i := sp.lo; i < sp.hi; i++ {
		if r := known[i]; r != nil {
			d.dead = append(d.dead, r.letter)
		} else {
			d.dead = append(d.dead, describeLine(lineAt(buf, ends, i), o, nil))
		}
	}
	return 0
}

// pushHalves pushes the two halves of sp, the first on top.
func pushHalves(stack []span, sp span) []span {
	mid := sp.lo + sp.n()/2
	return append(stack, span{mid, sp.hi}, span{sp.lo, mid})
}

// truncated reports whether Classify cut InfluxDB's message short.
func truncated(o Outcome) bool { return len(o.Message) > maxMessage }

// lineAt is line i without its final newline.
func lineAt(buf []byte, ends []int, i int) []byte {
	return bytes.TrimSuffix(buf[lineStart(ends, i):ends[i]], []byte{'\n'})
}

// post sends one write request and classifies the reply.
func (p *Output) post(ctx context.Context, lines []byte) Outcome {
	body := lines
	if p.cfg.Gzip {
		body = p.compress(lines)
	}
	start := time.Now()
	r := p.http.write(ctx, body)
	end := time.Now()
	o := ClassifyWrite(r, end)
	p.mu.Lock()
	p.st.bytesSent += uint64(len(body))
	p.st.lastLatency = end.Sub(start)
	p.mu.Unlock()
	return o
}

// refusal is a line InfluxDB refused and its dead letter.
type refusal struct {
	line   int
	letter DeadLetter
}

// refusedLines finds the lines of sp that InfluxDB refused according to o:
// lines that do not parse here, lines its message quotes as unparsable,
// and lines carrying the field of a type conflict with the type it names.
// complete is true when they account exactly for every refused point.
func refusedLines(buf []byte, ends []int, sp span, o Outcome) (bad []refusal, complete bool) {
	tc, hasConflict := parseTypeConflict(o.Message)
	hasUnparsable := strings.Contains(o.Message, "unable to parse '")
	for i := sp.lo; i < sp.hi; i++ {
		line := lineAt(buf, ends, i)
		pts, err := models.ParsePointsWithPrecision(line, time.Unix(0, 0), "ns")
		if err != nil || len(pts) != 1 {
			e := Outcome{Message: "unable to parse"}
			if err != nil {
				e.Message = err.Error()
			}
			bad = append(bad, refusal{i, describeLine(line, e, nil)})
			continue
		}
		if hasUnparsable && strings.Contains(o.Message, "unable to parse '"+string(line)+"': ") {
			bad = append(bad, refusal{i, describeLine(line, o, pts[0])})
			continue
		}
		if hasConflict && string(pts[0].Name()) == tc.measurement {
			if dl, ok := conflictLetter(line, pts[0], tc); ok {
				bad = append(bad, refusal{i, dl})
			}
		}
	}
	complete = !truncated(o) && o.Dropped > 0 && len(bad) == o.Dropped
	return bad, complete
}

// typeConflict is what InfluxDB's "field type conflict" message says:
// input field "<field>" on measurement "<measurement>" is type <sent>,
// already exists as type <existing>.
type typeConflict struct {
	field, measurement, sent, existing string
}

func parseTypeConflict(msg string) (typeConflict, bool) {
	var tc typeConflict
	rest, ok := after(msg, `field type conflict: input field "`)
	if !ok {
		return tc, false
	}
	if tc.field, rest, ok = strings.Cut(rest, `" on measurement "`); !ok {
		return tc, false
	}
	if tc.measurement, rest, ok = strings.Cut(rest, `" is type `); !ok {
		return tc, false
	}
	if tc.sent, rest, ok = strings.Cut(rest, `, already exists as type `); !ok {
		return tc, false
	}
	tc.existing, _, _ = strings.Cut(rest, " ")
	return tc, true
}

func after(s, prefix string) (string, bool) {
	i := strings.Index(s, prefix)
	if i < 0 {
		return "", false
	}
	return s[i+len(prefix):], true
}

// fieldTypeNames are InfluxDB's names of the field types.
var fieldTypeNames = map[models.FieldType]string{
	models.Float: "float", models.Integer: "integer", models.Boolean: "boolean",
	models.String: "string", models.Unsigned: "unsigned",
}

// conflictLetter returns the dead letter of a point whose field tc.field
// has type tc.sent.
func conflictLetter(line []byte, pt models.Point, tc typeConflict) (DeadLetter, bool) {
	it := pt.FieldIterator()
	for it.Next() {
		if string(it.FieldKey()) != tc.field || fieldTypeNames[it.Type()] != tc.sent {
			continue
		}
		dl := describeLine(line, Outcome{Message: "field type conflict"}, pt)
		dl.Reason = ReasonTypeConflict
		dl.Field, dl.Type, dl.ExistingType = tc.field, tc.sent, tc.existing
		dl.Error = "field type conflict: field " + tc.field + " is type " + tc.sent +
			", InfluxDB has it as type " + tc.existing
		switch it.Type() {
		case models.Float:
			dl.Value, _ = it.FloatValue()
		case models.Integer:
			dl.Value, _ = it.IntegerValue()
		case models.Unsigned:
			dl.Value, _ = it.UnsignedValue()
		case models.Boolean:
			dl.Value, _ = it.BooleanValue()
		case models.String:
			dl.Value = it.StringValue()
		}
		return dl, true
	}
	return DeadLetter{}, false
}

// describeLine builds the dead letter of a refused line: its names and
// time (from pt, the line parsed, which describeLine parses itself when
// nil; read from its text if it does not parse) and the reason the
// outcome's message gives.
func describeLine(line []byte, o Outcome, pt models.Point) DeadLetter {
	dl := DeadLetter{Line: string(line), Reason: ReasonServerDropped, Error: o.Message}
	if pt == nil {
		if pts, err := models.ParsePointsWithPrecision(line, time.Unix(0, 0), "ns"); err == nil && len(pts) == 1 {
			pt = pts[0]
		}
	}
	if tc, ok := parseTypeConflict(o.Message); ok && pt != nil && string(pt.Name()) == tc.measurement {
		if c, ok := conflictLetter(line, pt, tc); ok {
			return c
		}
	}
	lower := strings.ToLower(o.Message)
	switch {
	case strings.Contains(lower, "unable to parse") || pt == nil:
		dl.Reason = ReasonUnparsable
		if msg, ok := after(o.Message, "unable to parse '"+string(line)+"': "); ok {
			msg, _, _ = strings.Cut(msg, "unable to parse '")
			dl.Error = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(msg), "dropped=0"))
		}
	case strings.Contains(lower, "field type conflict"):
		dl.Reason = ReasonTypeConflict
	}
	if len(dl.Error) > maxDeadLetterError {
		dl.Error = dl.Error[:maxDeadLetterError] + "..."
	}
	if pt != nil {
		dl.Agent = string(pt.Name())
		dl.Feed = pt.Tags().GetString("feed")
		dl.Time = pt.Time().UTC()
		return dl
	}
	name, tags := models.ParseKey([]byte(seriesKey(string(line))))
	dl.Agent, dl.Feed = name, tags.GetString("feed")
	if ns, ok := lineTime(line); ok {
		dl.Time = time.Unix(0, ns).UTC()
	}
	return dl
}

// deadLetteredLocked counts the dead letters of one delivery and returns
// the type conflicts to log (the first of each field and type).
func (p *Output) deadLetteredLocked(dls []DeadLetter, now time.Time) (conflicts []*DeadLetter) {
	for i := range dls {
		e := &dls[i]
		e.At = now
		p.rejectLocked(Reject{Reason: e.Reason, Agent: e.Agent, Feed: e.Feed, Field: e.Field, Count: 1})
		p.dead.add(e)
		if e.Reason == ReasonTypeConflict && e.Field != "" && p.dead.firstConflict(e) {
			conflicts = append(conflicts, e)
		}
	}
	return conflicts
}

// writeDeadLetters logs the new type conflicts and appends the dead
// letters to the dead-letter file.
func (p *Output) writeDeadLetters(dls []DeadLetter, conflicts []*DeadLetter) {
	for _, e := range conflicts {
		p.log.Warn("field type conflict: InfluxDB has this field with another type and refuses the points that have it with this type; they are dead-lettered",
			"agent", e.Agent, "feed", e.Feed, "field", e.Field, "sent_type", e.Type, "influxdb_type", e.ExistingType,
			"dead_letter_file", p.deadFile.pathOrNone())
	}
	if p.deadFile == nil || len(dls) == 0 {
		return
	}
	if err := p.deadFile.write(dls); err != nil {
		p.mu.Lock()
		p.dead.errors++
		n := p.dead.errors
		p.mu.Unlock()
		if n == 1 || n%100 == 0 {
			p.log.Error("cannot write the dead-letter file; the refused points are only counted", "err", err, "points", len(dls))
		}
	}
}

func (d *deadLetterFile) pathOrNone() string {
	if d == nil {
		return "none"
	}
	return d.path
}
