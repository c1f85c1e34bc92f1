package agent

import (
	"os"
	"path/filepath"
)

// cleanDirs empties each directory (on Lambda, /tmp) after a run, so that the
// next container in this warm environment finds none of the last one's files.
func cleanDirs(dirs []string, diag func(string, ...any)) {
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			diag("clean %s: %v", dir, err)
			continue
		}
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				diag("clean %s: %v", dir, err)
			}
		}
	}
}
