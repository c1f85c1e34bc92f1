package efs

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// Each file system is the host directory <Dir>/<fs-id>/; an access point
// exposes <Dir>/<fs-id><RootDirectory.Path>. Lambda bind-mounts that
// directory into the functions that use the access point.

func (s *Service) fsDir(id string) string { return filepath.Join(s.cfg.Dir, id) }

// Mount is an access point made ready for a client.
type Mount struct {
	// Dir is the access point's root directory on the host: absolute, for
	// the Docker engine to bind-mount.
	Dir string
	// User is the access point's PosixUser, the identity EFS applies to
	// every file operation through it; nil when it has none, and operations
	// carry the client's own identity.
	User *PosixUser
}

// PosixUser is an access point's POSIX identity.
type PosixUser struct {
	UID, GID      int64
	SecondaryGIDs []int64
}

// ErrMount is the cause of a failed mount: the access point does not exist
// (any more), or its root directory does not exist and it has no
// CreationInfo to create it with.
var ErrMount = errors.New("efs: mount failed")

// AccessPointExists reports whether arn names an access point of this
// account and region.
func (s *Service) AccessPointExists(arn string) bool {
	_, ok := s.accessPointByARN(arn)
	return ok
}

func (s *Service) accessPointByARN(arn string) (accessPoint, bool) {
	prefix := "arn:aws:elasticfilesystem:" + s.cfg.Region + ":" + s.cfg.AccountID + ":access-point/"
	if len(arn) <= len(prefix) || arn[:len(prefix)] != prefix {
		return accessPoint{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ap := s.st.AccessPoints[arn[len(prefix):]]
	if ap == nil {
		return accessPoint{}, false
	}
	return *ap, true
}

// Mount readies the access point arn for a client, as EFS does at mount
// time: its root directory is created on first use with the owner and
// permissions of its CreationInfo. Without CreationInfo, a root directory
// that does not exist fails the mount, as on EFS.
//
// A simulator that is not root cannot give the directory another owner:
// it then makes it writable for everyone instead (and says so at debug
// level), so that the function's user can still write there.
func (s *Service) Mount(arn string) (Mount, error) {
	ap, ok := s.accessPointByARN(arn)
	if !ok {
		return Mount{}, fmt.Errorf("%w: access point %s does not exist", ErrMount, arn)
	}
	root := s.fsDir(ap.FileSystemID)
	if p := *ap.RootDirectory.Path; p != "/" {
		root = filepath.Join(root, filepath.FromSlash(p))
	}
	m := Mount{Dir: root}
	if u := ap.PosixUser; u != nil {
		m.User = &PosixUser{UID: *u.Uid, GID: *u.Gid, SecondaryGIDs: append([]int64(nil), u.SecondaryGids...)}
	}

	s.mountMu.Lock()
	defer s.mountMu.Unlock()
	if info, err := os.Stat(root); err == nil {
		if !info.IsDir() {
			return Mount{}, fmt.Errorf("%w: %s is not a directory", ErrMount, *ap.RootDirectory.Path)
		}
		return m, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return Mount{}, fmt.Errorf("%w: %v", ErrMount, err)
	}
	ci := ap.RootDirectory.CreationInfo
	if ci == nil {
		return Mount{}, fmt.Errorf("%w: the root directory %s of access point %s does not exist and it has no CreationInfo", ErrMount, *ap.RootDirectory.Path, ap.ID)
	}
	// Missing parents are made as EFS makes a fresh file system's root:
	// owned by the file system's owner, 0755.
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		return Mount{}, fmt.Errorf("create the parents of %s: %w", root, err)
	}
	if err := os.Mkdir(root, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return Mount{}, fmt.Errorf("create %s: %w", root, err)
	}
	perm, _ := strconv.ParseUint(*ci.Permissions, 8, 32)
	if err := os.Lchown(root, int(*ci.OwnerUid), int(*ci.OwnerGid)); err != nil {
		slog.Debug("efs: cannot give the root directory its CreationInfo owner; making it writable for everyone instead",
			"accessPoint", ap.ID, "dir", root, "owner", fmt.Sprintf("%d:%d", *ci.OwnerUid, *ci.OwnerGid), "err", err)
		perm |= 0o777
	}
	// Chmod after chown: chown clears the setuid and setgid bits. syscall's
	// Chmod keeps the sticky, setuid and setgid bits as given.
	if err := syscall.Chmod(root, uint32(perm)); err != nil {
		return Mount{}, fmt.Errorf("chmod %s: %w", root, err)
	}
	slog.Info("efs: access point root directory created", "accessPoint", ap.ID, "dir", root,
		"owner", fmt.Sprintf("%d:%d", *ci.OwnerUid, *ci.OwnerGid), "permissions", *ci.Permissions)
	return m, nil
}
