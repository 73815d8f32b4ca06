//go:build !unix

package publisher

import (
	"fmt"
	"os"
	"path/filepath"
)

const lockFileName = "LOCK"

// lockDir creates the lock file but cannot lock it on this platform: two
// processes sharing a spool directory are not detected.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	return f, nil
}
