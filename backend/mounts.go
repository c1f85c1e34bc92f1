package backend

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// A function's root file system is read-only and it can mount nothing, so a
// mount is a symbolic link at its path in the derived image, pointing into
// /tmp (writable, private to the execution environment), where the agent
// makes at each start either a link to the volume's directory on the EFS
// mount or an empty directory (tmpfs). A path under /tmp needs no link in the
// image: the agent makes it there directly.
const mountLinkDir = "/tmp/.sockerless/mounts"

const (
	mountVolume = "volume"
	mountTmpfs  = "tmpfs"
)

// mountSpec is one of a container's mounts, resolved at create.
type mountSpec struct {
	Type     string `json:"type"`           // volume or tmpfs
	Name     string `json:"name,omitempty"` // the volume's name
	Dir      string `json:"dir,omitempty"`  // the volume's directory on the access point
	Path     string `json:"path"`           // in the container
	ReadOnly bool   `json:"readOnly,omitempty"`
	// Seed: a new volume gets what the image has at Path, as Docker copies
	// it (not with nocopy, nor for --tmpfs).
	Seed bool `json:"seed,omitempty"`
}

// seedRoot is where the derived image keeps what the base image had at each
// mount path (the link hides it), for the agent to copy into a new volume.
const seedRoot = "/opt/sockerless/seed"

func mountHash(p string) string {
	sum := sha256.Sum256([]byte(p))
	return hex.EncodeToString(sum[:8])
}

// seedDir is where the derived image keeps what the base image has at p.
func seedDir(p string) string { return seedRoot + "/" + mountHash(p) }

// link is where the agent makes the mount; the derived image links Path to
// it, unless Path is itself under /tmp.
func (m mountSpec) link() string {
	if underTmp(m.Path) {
		return m.Path
	}
	return mountLinkDir + "/" + mountHash(m.Path)
}

func underTmp(p string) bool { return p == "/tmp" || strings.HasPrefix(p, "/tmp/") }

// imageLinks are the mounts the derived image must link: path → link.
func imageLinks(mounts []mountSpec) map[string]string {
	links := map[string]string{}
	for _, m := range mounts {
		if !underTmp(m.Path) {
			links[m.Path] = m.link()
		}
	}
	return links
}

// imageSeeds are the mount paths whose image content the derived image keeps,
// for the agent to fill new volumes with.
func imageSeeds(mounts []mountSpec) []string {
	var out []string
	for _, m := range mounts {
		if m.Seed && !underTmp(m.Path) {
			out = append(out, m.Path)
		}
	}
	sort.Strings(out)
	return out
}

// usesEFS reports whether the container mounts a volume, so that its
// function needs the access point.
func usesEFS(mounts []mountSpec) bool {
	for _, m := range mounts {
		if m.Type == mountVolume {
			return true
		}
	}
	return false
}

// resolveMounts turns the request's volumes, binds, mounts and tmpfs, and the
// image's VOLUMEs, into mounts a function can have, creating named volumes
// that do not exist yet as Docker does. What Lambda cannot do is an error
// naming it; what it does differently is a warning.
func (b *Backend) resolveMounts(cfg *container.Config, hc *container.HostConfig, img *Image) ([]mountSpec, []string, error) {
	var specs []mountSpec
	var warnings []string
	seen := map[string]bool{}
	add := func(m mountSpec) error {
		p := path.Clean(m.Path)
		if !path.IsAbs(m.Path) || p == "/" {
			return badRequest("invalid mount config: mount path must be absolute and not \"/\": %q", m.Path)
		}
		if p == "/tmp" {
			// The function's own /tmp is already private to the
			// environment and emptied after each run: a tmpfs there is
			// what it is; a volume cannot replace it.
			if m.Type == mountVolume && m.Name != "" {
				return badRequest("invalid mount config: a volume cannot be mounted at /tmp on Lambda: /tmp is the function's own storage; mount it elsewhere")
			}
			m.Type, m.Name, m.Seed = mountTmpfs, "", false
		} else {
			// Neither at, under nor above what the function needs: a link
			// over /opt would hide the agent, one over /mnt the EFS mount.
			for _, reserved := range []string{efsMountPath, "/opt/sockerless", "/proc", "/sys", "/dev", mountLinkDir} {
				if p == reserved || strings.HasPrefix(p, reserved+"/") || strings.HasPrefix(reserved, p+"/") {
					return badRequest("invalid mount config: %s is reserved on Lambda and cannot be a mount point", p)
				}
			}
			// The runtime mounts its own files into /etc (hosts,
			// resolv.conf): a link over all of /etc would lose them.
			if p == "/etc" {
				return badRequest("invalid mount config: /etc is reserved on Lambda and cannot be a mount point (a directory below it can)")
			}
		}
		if seen[p] {
			return badRequest("Duplicate mount point: %s", p)
		}
		// A mount inside another would be a link inside a link: on EFS it
		// would change the outer volume for everyone.
		for other := range seen {
			if other != "/tmp" && p != "/tmp" && (strings.HasPrefix(p, other+"/") || strings.HasPrefix(other, p+"/")) {
				return badRequest("invalid mount config: %s and %s are nested: nested mounts are not supported on Lambda", other, p)
			}
		}
		seen[p] = true
		m.Path = p
		if m.ReadOnly {
			warnings = append(warnings, fmt.Sprintf("Mount %s is read-write: Lambda cannot mount a volume read-only.", p))
		}
		specs = append(specs, m)
		return nil
	}
	for _, bind := range hc.Binds {
		m, err := parseBind(bind)
		if err == nil {
			err = add(m)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	for _, mt := range hc.Mounts {
		m := mountSpec{Path: mt.Target, ReadOnly: mt.ReadOnly}
		switch mt.Type {
		case mount.TypeVolume:
			if mt.VolumeOptions != nil && mt.VolumeOptions.DriverConfig != nil {
				if err := checkVolumeDriver(mt.VolumeOptions.DriverConfig.Name, mt.VolumeOptions.DriverConfig.Options); err != nil {
					return nil, nil, err
				}
			}
			m.Type, m.Name, m.Seed = mountVolume, mt.Source, mt.VolumeOptions == nil || !mt.VolumeOptions.NoCopy
		case mount.TypeTmpfs:
			m.Type = mountTmpfs
			if mt.TmpfsOptions != nil && mt.TmpfsOptions.SizeBytes > 0 {
				warnings = append(warnings, fmt.Sprintf("The size of tmpfs %s is not enforced: it is kept in the function's /tmp storage.", mt.Target))
			}
		case mount.TypeBind:
			return nil, nil, bindMountError(mt.Source)
		default:
			return nil, nil, badRequest("mount type %q is not supported on Lambda: only volumes (on EFS) and tmpfs", mt.Type)
		}
		if err := add(m); err != nil {
			return nil, nil, err
		}
	}
	// --volumes-from: the other container's volumes, at the same paths.
	for _, from := range hc.VolumesFrom {
		ref, mode, _ := strings.Cut(from, ":")
		if mode != "" && mode != "ro" && mode != "rw" {
			return nil, nil, badRequest("invalid mode for volumes-from: %s", mode)
		}
		src, err := b.store.Lookup(ref)
		if err != nil {
			return nil, nil, err
		}
		for _, m := range src.Mounts {
			if m.Type == mountVolume && !seen[m.Path] {
				if err := add(mountSpec{Type: mountVolume, Name: m.Name, Path: m.Path, ReadOnly: mode == "ro" || (mode == "" && m.ReadOnly), Seed: m.Seed}); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	for _, p := range sortedKeys(hc.Tmpfs) {
		if err := add(mountSpec{Type: mountTmpfs, Path: p}); err != nil {
			return nil, nil, err
		}
	}
	// `-v /path` and the image's VOLUMEs get anonymous volumes, unless the
	// path is mounted already.
	for _, vols := range []map[string]struct{}{cfg.Volumes, img.Config.Config.Volumes} {
		for _, p := range sortedKeys(vols) {
			if seen[path.Clean(p)] {
				continue
			}
			m := mountSpec{Type: mountVolume, Path: p, Seed: true}
			if b.cfg.EFSAccessPoint == "" {
				// No EFS: the path is still writable, for this run only.
				m.Type = mountTmpfs
				warnings = append(warnings, fmt.Sprintf("Volume %s is kept in the function's /tmp storage and lost when the container stops: named and anonymous volumes need EFS (SOCKERLESS_EFS_ACCESS_POINT_ARN).", p))
			}
			if err := add(m); err != nil {
				return nil, nil, err
			}
		}
	}
	// Named volumes are created as Docker does; anonymous ones get a name.
	for i := range specs {
		if specs[i].Type != mountVolume {
			continue
		}
		var labels map[string]string
		if specs[i].Name == "" {
			labels = map[string]string{anonymousLabel: ""}
		}
		vol, _, err := b.ensureVolume(specs[i].Name, labels)
		if err != nil {
			return nil, nil, err
		}
		specs[i].Name, specs[i].Dir = vol.Name, vol.Dir
	}
	return specs, warnings, nil
}

// parseBind reads a -v value: "name:/path[:options]" is a named volume;
// "/host/path:/path" a bind mount, which a function cannot have.
func parseBind(bind string) (mountSpec, error) {
	parts := strings.Split(bind, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return mountSpec{}, badRequest("invalid volume specification: '%s'", bind)
	}
	if strings.HasPrefix(parts[0], "/") || strings.HasPrefix(parts[0], ".") {
		return mountSpec{}, bindMountError(parts[0])
	}
	m := mountSpec{Type: mountVolume, Name: parts[0], Path: parts[1], Seed: true}
	if len(parts) == 3 {
		for _, opt := range strings.Split(parts[2], ",") {
			switch opt {
			case "ro":
				m.ReadOnly = true
			case "nocopy":
				m.Seed = false
			case "rw", "z", "Z", "consistent", "cached", "delegated", "":
			default:
				return mountSpec{}, badRequest("invalid mode: %s", opt)
			}
		}
	}
	return m, nil
}

func bindMountError(src string) error {
	return badRequest("bind mounts are not supported on Lambda: a function cannot see %s on this machine; use a named volume (on EFS) or docker cp", src)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// agentMounts are the mounts as the agent makes them. A tmpfs at /tmp is the
// function's /tmp as it is: nothing to make.
func (b *Backend) agentMounts(c *Container) []protocol.Mount {
	var out []protocol.Mount
	for _, m := range c.Mounts {
		if m.Path == "/tmp" {
			continue
		}
		pm := protocol.Mount{Path: m.Path, Link: m.link()}
		if m.Seed && !underTmp(m.Path) {
			pm.Seed = seedDir(m.Path)
		}
		if m.Type == mountVolume {
			dir := m.Dir
			if vol, ok := b.volumes.get(m.Name); ok && dir == "" {
				dir = vol.Dir // a record from before mounts kept their directory
			}
			if dir == "" {
				continue // never the whole access point
			}
			pm.Dir = efsMountPath + "/" + dir
		}
		out = append(out, pm)
	}
	return out
}

// mountPoints are the container's mounts as `docker inspect` shows them.
func (b *Backend) mountPoints(c *Container) []container.MountPoint {
	out := []container.MountPoint{}
	for _, m := range c.Mounts {
		mp := container.MountPoint{Type: mount.Type(m.Type), Destination: m.Path, RW: true, Mode: ""}
		if m.Type == mountVolume {
			mp.Name, mp.Driver, mp.Source = m.Name, "local", efsMountPath+"/"+m.Dir
		}
		out = append(out, mp)
	}
	return out
}
