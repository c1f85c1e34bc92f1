package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// makeMounts makes each mount's link (see protocol.Mount): a symbolic link
// to the volume's directory, made if missing, or an empty directory for a
// tmpfs mount. Whatever an earlier run left at the link is replaced.
func makeMounts(mounts []protocol.Mount) error {
	for _, m := range mounts {
		if err := os.RemoveAll(m.Link); err != nil {
			return fmt.Errorf("mount %s: %w", m.Path, err)
		}
		if err := os.MkdirAll(filepath.Dir(m.Link), 0o755); err != nil {
			return fmt.Errorf("mount %s: %w", m.Path, err)
		}
		if m.Dir == "" {
			if err := os.Mkdir(m.Link, 0o777|os.ModeSticky); err != nil {
				return fmt.Errorf("mount %s: tmpfs: %w", m.Path, err)
			}
			// The mode is not subject to the umask, as a tmpfs mount's.
			if err := os.Chmod(m.Link, 0o777|os.ModeSticky); err != nil {
				return fmt.Errorf("mount %s: tmpfs: %w", m.Path, err)
			}
			continue
		}
		if err := os.MkdirAll(m.Dir, 0o755); err != nil {
			return fmt.Errorf("mount %s: volume directory %s: %w", m.Path, m.Dir, err)
		}
		if err := os.Symlink(m.Dir, m.Link); err != nil {
			return fmt.Errorf("mount %s: %w", m.Path, err)
		}
	}
	return nil
}

// purge deletes the removed volumes' directories in the background; wait
// returns those that are gone.
type purge struct {
	done chan struct{}
	gone []string
}

func startPurge(dirs []string, diag func(string, ...any)) *purge {
	p := &purge{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for _, dir := range dirs {
			if err := os.RemoveAll(dir); err != nil {
				diag("purge %s: %v", dir, err)
				continue
			}
			p.gone = append(p.gone, dir)
		}
	}()
	return p
}

// wait waits for the purge until the deadline; what is not gone by then is
// deleted by a later run.
func (p *purge) wait(deadline <-chan time.Time) []string {
	select {
	case <-p.done:
		return p.gone
	case <-deadline:
		return nil
	}
}
