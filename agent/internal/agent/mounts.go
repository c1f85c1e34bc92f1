package agent

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
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
			if err := seed(m.Seed, m.Link); err != nil {
				return fmt.Errorf("mount %s: copy the image's files: %w", m.Path, err)
			}
			continue
		}
		if err := os.MkdirAll(m.Dir, 0o755); err != nil {
			return fmt.Errorf("mount %s: volume directory %s: %w", m.Path, m.Dir, err)
		}
		if entries, err := os.ReadDir(m.Dir); err == nil && len(entries) == 0 {
			if err := seedVolume(m.Seed, m.Dir); err != nil {
				return fmt.Errorf("mount %s: copy the image's files: %w", m.Path, err)
			}
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

func startPurge(dirs []string, mounts []protocol.Mount, diag func(string, ...any)) *purge {
	p := &purge{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for _, dir := range dirs {
			if !purgeable(dir, mounts) {
				diag("purge %s: refused: not a volume directory of the mounted access point", dir)
				continue
			}
			if err := removeTree(dir); err != nil {
				diag("purge %s: %v", dir, err)
				continue
			}
			p.gone = append(p.gone, dir)
		}
	}()
	return p
}

// purgeable reports whether dir is a volume directory: a direct child of the
// directory that holds this run's volumes, and nothing else.
func purgeable(dir string, mounts []protocol.Mount) bool {
	if filepath.Clean(dir) != dir || !filepath.IsAbs(dir) {
		return false
	}
	base := filepath.Base(dir)
	if base == "." || base == ".." || base == "/" {
		return false
	}
	for _, m := range mounts {
		if m.Dir != "" && filepath.Dir(m.Dir) == filepath.Dir(dir) {
			return true
		}
	}
	return false
}

// removeTree removes dir and everything in it, making read-only directories
// writable first if it must (a Go module cache has them).
func removeTree(dir string) error {
	if err := os.RemoveAll(dir); err == nil {
		return nil
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
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

// seed copies the tree at from (files, directories, symbolic links, their
// modes) into the directory to; nothing to do without from or when the image
// had nothing there. Directories are made writable while they are filled
// and get their own modes at the end, as tar extractors do.
func seed(from, to string) error {
	if from == "" {
		return nil
	}
	if _, err := os.Stat(from); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	type dirMode struct {
		path string
		mode fs.FileMode
	}
	var dirs []dirMode
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if rel == "." {
			return nil
		}
		dst := filepath.Join(to, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			dirs = append(dirs, dirMode{dst, info.Mode().Perm()})
			return os.MkdirAll(dst, 0o755)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			// Another container may be filling the same new volume.
			if err := os.Symlink(target, dst); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
			return nil
		case info.Mode().IsRegular():
			return copyFile(p, dst, info.Mode().Perm())
		}
		return nil // devices, fifos: not in a volume
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = os.Chmod(dirs[i].path, dirs[i].mode)
	}
	return nil
}

// seedVolume fills the empty volume directory dir from the seed: in a
// staging directory beside it first, so that a copy cut short leaves the
// volume empty (and seeded again by the next start), not half-filled.
func seedVolume(from, dir string) error {
	if from == "" {
		return nil
	}
	stage, err := os.MkdirTemp(filepath.Dir(dir), ".seed-"+filepath.Base(dir)+"-")
	if err != nil {
		return err
	}
	defer removeTree(stage)
	if err := seed(from, stage); err != nil {
		return err
	}
	entries, err := os.ReadDir(stage)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(stage, e.Name()), filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
