package publisher_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocsflux/ocsflux/internal/influxtest"
	"github.com/ocsflux/ocsflux/publisher"
)

// breakableDir is a spool directory whose writes can be made to fail and
// work again: as root (CI) a 4 MiB tmpfs that fill fills up with a filler
// file, otherwise a directory that fill makes read-only. heal undoes fill.
func breakableDir(t *testing.T) (dir string, fill, heal func()) {
	t.Helper()
	dir = t.TempDir()
	if os.Geteuid() != 0 {
		return dir, func() { chmod(t, dir, 0o555) }, func() { chmod(t, dir, 0o755) }
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs for the spool (the test runs as root): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	filler := filepath.Join(dir, "filler")
	fill = func() {
		f, err := os.Create(filler)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		chunk := make([]byte, 64<<10)
		for range 4<<20/len(chunk) + 2 { // until the tmpfs is full
			if _, err := f.Write(chunk); err != nil {
				return
			}
		}
		t.Fatal("the tmpfs did not fill up")
	}
	return dir, fill, func() {
		if err := os.Remove(filler); err != nil {
			t.Error(err)
		}
	}
}

func chmod(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
}

// TestSpoolHeals: with influxd down, data is spooled; then spool writes
// fail (a full filesystem) and new data stays in memory, and record is
// degraded with the spool's error. When influxd comes back, the spooled
// points are replayed at once, without a restart and while the spool still
// cannot be written, and the memory data is written; once the disk has
// room again the spool error clears. (Before, replay waited for a
// successful append, which never came once influxd was back.)
func TestSpoolHeals(t *testing.T) {
	srv := influxtest.Start(t)
	const db = "spool_heal"
	dir, fill, heal := breakableDir(t)
	cfg := influxConfig(srv, db)
	cfg.SpoolDir = dir
	cfg.FlushInterval = 50 * time.Millisecond
	r := start(t, cfg)
	<-r.Connected()
	srv.Kill()

	s := newStream("obs.heal", 2)
	s.tick(t, r, 100)
	waitFor(t, "the first points spooled", func() bool { return r.Stats().Spooled == 200 })

	fill()
	s.tick(t, r, 100)
	waitFor(t, "the spool error", func() bool { return r.Stats().SpoolError != "" })
	st := r.Stats()
	if !strings.Contains(st.Degraded, "the spool cannot be written") || st.PendingPoints != 200 {
		t.Errorf("while the spool cannot be written: degraded %q, pending %d (want 200 in memory)", st.Degraded, st.PendingPoints)
	}

	if err := srv.Resume(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replay and the memory data written, the spool still full", func() bool {
		st := r.Stats()
		return st.Replayed == 200 && st.Written == 200 && st.SpoolPoints == 0
	})
	s.check(t, srv, db)

	heal()
	waitLong(t, "the spool error to clear", 20*time.Second, func() bool {
		st := r.Stats()
		return st.SpoolError == "" && st.Degraded == ""
	})
}

// TestSpoolDirUnusableAtStart: a spool directory that cannot be used is an
// error from Run naming it (not "failed to connect"), unless SpoolFallback:
// then the publisher writes without a spool, degraded with that reason.
func TestSpoolDirUnusableAtStart(t *testing.T) {
	srv := influxtest.Start(t)
	dir, fill, _ := breakableDir(t)
	fill()
	spool := filepath.Join(dir, "spool") // cannot be created: no room, or read-only

	cfg := influxConfig(srv, "spool_unusable")
	cfg.SpoolDir = spool
	r := start(t, cfg)
	var err error
	select {
	case err = <-r.done: // Run ends by itself
		r.done <- err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not fail")
	}
	if err == nil || errors.Is(err, publisher.ErrNotConnected) || !strings.Contains(err.Error(), "spool directory "+spool) {
		t.Errorf("Run = %v, want an error naming the spool directory", err)
	}

	cfg.SpoolFallback = true
	r = start(t, cfg)
	<-r.Connected()
	s := newStream("obs.nospool", 1)
	s.tick(t, r, 50)
	waitFor(t, "the points written without a spool", func() bool { return r.Stats().Written == 50 })
	if st := r.Stats(); !strings.Contains(st.Degraded, "spool directory "+spool) {
		t.Errorf("degraded %q, want the spool directory's error", st.Degraded)
	}
	s.check(t, srv, "spool_unusable")
}
