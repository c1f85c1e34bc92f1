package agent

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// serveArchive answers one file operation (docker cp): one ArchiveReply line,
// then for a get the tar of the path, rooted at its base name as Docker does.
func serveArchive(st net.Conn, h protocol.StreamHeader, mounts []protocol.Mount, diag func(string, ...any)) {
	defer st.Close()
	reply := func(r protocol.ArchiveReply) bool {
		b, _ := json.Marshal(r)
		_, err := st.Write(append(b, '\n'))
		return err == nil
	}
	if !filepath.IsAbs(h.Path) {
		reply(archiveError(fmt.Errorf("path %q is not absolute", h.Path), protocol.ErrInvalid))
		return
	}
	// A mount path is a link in the image; docker cp sees the mount.
	path := throughMounts(h.Path, mounts)
	switch h.Op {
	case protocol.ArchiveStat, protocol.ArchiveGet:
		stat, err := pathStat(path)
		if err != nil {
			reply(archiveError(err, ""))
			return
		}
		stat.Name = filepath.Base(filepath.Clean(h.Path))
		if !reply(protocol.ArchiveReply{Stat: stat}) || h.Op == protocol.ArchiveStat {
			return
		}
		if err := writeTar(st, path, h.Path); err != nil {
			// The reply is out; cutting the tar short is how the client learns.
			diag("archive get %s: %v", h.Path, err)
		}
	case protocol.ArchivePut:
		err := extractTar(st, path, h.NoOverwriteDirNonDir, mounts)
		_, _ = io.Copy(io.Discard, st) // the rest, up to the backend's half-close
		if err != nil {
			reply(archiveError(err, ""))
			return
		}
		reply(protocol.ArchiveReply{})
	default:
		reply(archiveError(fmt.Errorf("unknown archive operation %q", h.Op), protocol.ErrInvalid))
	}
}

// archiveError classifies err for the backend's HTTP status.
func archiveError(err error, kind string) protocol.ArchiveReply {
	switch {
	case kind != "":
	case errors.Is(err, fs.ErrNotExist):
		kind = protocol.ErrNotFound
	case errors.Is(err, syscall.EROFS):
		kind = protocol.ErrReadOnly
		err = fmt.Errorf("%w (the function's root filesystem is read-only; only /tmp is writable)", err)
	}
	return protocol.ArchiveReply{Error: err.Error(), ErrorKind: kind}
}

func pathStat(path string) (*protocol.PathStat, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	st := &protocol.PathStat{Name: fi.Name(), Size: fi.Size(), Mode: uint32(fi.Mode()), Mtime: fi.ModTime()}
	if fi.Mode()&fs.ModeSymlink != 0 {
		st.LinkTarget, _ = os.Readlink(path)
	}
	return st, nil
}

// throughMounts replaces a mount path at the start of path with where the
// mount really is (see protocol.Mount).
func throughMounts(path string, mounts []protocol.Mount) string {
	clean := filepath.Clean(path)
	for _, m := range mounts {
		real := m.Dir
		if real == "" {
			real = m.Link
		}
		if clean == m.Path || strings.HasPrefix(clean, m.Path+"/") {
			out := real + strings.TrimPrefix(clean, m.Path)
			if strings.HasSuffix(path, "/.") {
				out += "/."
			}
			return out
		}
	}
	return path
}

// writeTar writes path as a tar whose entries start with the base name of
// asked, the path the client asked for ("." for one ending in "/.", whose
// contents are then copied).
func writeTar(w io.Writer, path, asked string) error {
	root := filepath.Clean(path)
	name := filepath.Base(filepath.Clean(asked))
	if strings.HasSuffix(asked, "/.") {
		name = "."
	}
	tw := tar.NewWriter(w)
	err := filepath.Walk(root, func(p string, fi fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		entry := filepath.ToSlash(filepath.Join(name, rel))
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		hdr.Name = entry
		if fi.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.CopyN(tw, f, hdr.Size)
		return err
	})
	if err != nil {
		return fmt.Errorf("tar %s: %w", path, err)
	}
	return tw.Close()
}

// extractTar unpacks a tar into the existing directory dir, like the
// daemon's PUT /containers/{id}/archive.
func extractTar(r io.Reader, dir string, noOverwriteDirNonDir bool, mounts []protocol.Mount) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("extraction point %s is not a directory", dir)
	}
	asRoot := os.Geteuid() == 0
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		name := filepath.Clean(filepath.FromSlash(hdr.Name))
		if name == "." {
			continue
		}
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("tar entry %q is outside the extraction point", hdr.Name)
		}
		target := throughMounts(filepath.Join(dir, name), mounts)
		if old, err := os.Lstat(target); err == nil && noOverwriteDirNonDir {
			if old.IsDir() != (hdr.Typeflag == tar.TypeDir) {
				return fmt.Errorf("cannot overwrite %s %q with a %s", kindOf(old.IsDir()), target, kindOf(!old.IsDir()))
			}
		}
		if err := extractEntry(tr, hdr, target, dir); err != nil {
			return err
		}
		if asRoot {
			_ = os.Lchown(target, hdr.Uid, hdr.Gid)
		}
		if hdr.Typeflag != tar.TypeSymlink {
			_ = os.Chtimes(target, hdr.ModTime, hdr.ModTime)
		}
	}
}

func kindOf(dir bool) string {
	if dir {
		return "directory"
	}
	return "non-directory"
}

func extractEntry(tr *tar.Reader, hdr *tar.Header, target, dir string) error {
	mode := fs.FileMode(hdr.Mode).Perm()
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.MkdirAll(target, 0o755); err != nil {
			return err
		}
		return os.Chmod(target, mode)
	case tar.TypeReg, tar.TypeRegA:
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		_ = os.Remove(target) // a symlink there must not be followed
		f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, tr); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", target, err)
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.Chmod(target, mode)
	case tar.TypeSymlink:
		_ = os.Remove(target)
		return os.Symlink(hdr.Linkname, target)
	case tar.TypeLink:
		_ = os.Remove(target)
		return os.Link(filepath.Join(dir, filepath.Clean(hdr.Linkname)), target)
	default:
		return nil // devices and fifos need privileges Lambda does not give
	}
}
