package publisher

import (
	"slices"
	"time"
)

// feedLimit bounds the per-feed counters of the intake and of each output,
// whatever the number of agent/feed pairs a site (or a hostile client)
// publishes: at most max feeds keep an entry, those silent for longer than
// expiry lose it, and when a new feed would exceed max the least recently
// active one loses it. The counters of a removed entry are folded into the
// "other feeds" totals, so totals stay exact.
type feedLimit struct {
	max    int
	expiry time.Duration
}

// shortKey is the key of a feed's counters: its names cut by ShortName, so
// that an entry takes at most about 500 bytes however long the names a
// client publishes (feeds whose names differ only beyond 200 bytes share
// their counters).
func shortKey(agent, feed string) feedKey {
	return feedKey{ShortName(agent), ShortName(feed)}
}

// makeRoom makes room for one more entry in m when it is full: it removes
// the least recently active tenth of the entries (at least one), folding
// each into fold, so that a flood of new feeds costs O(log n) per feed.
func makeRoom[T any](m map[feedKey]*T, lim feedLimit, active func(*T) time.Time, fold func(*T)) {
	if len(m) < lim.max {
		return
	}
	type entry struct {
		k  feedKey
		at time.Time
	}
	all := make([]entry, 0, len(m))
	for k, v := range m {
		all = append(all, entry{k, active(v)})
	}
	slices.SortFunc(all, func(a, b entry) int { return a.at.Compare(b.at) })
	for _, e := range all[:len(m)-lim.max+1+lim.max/10] {
		fold(m[e.k])
		delete(m, e.k)
	}
}

// expire removes the entries of m silent since before now - lim.expiry,
// folding each into fold.
func expire[T any](m map[feedKey]*T, lim feedLimit, now time.Time, active func(*T) time.Time, fold func(*T)) {
	cut := now.Add(-lim.expiry)
	for k, v := range m {
		if active(v).Before(cut) {
			fold(v)
			delete(m, k)
		}
	}
}
