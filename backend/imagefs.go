package backend

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// createdFS is the filesystem of a container that has not started yet: its
// image's (the layers flattened, whiteouts applied), overlaid with the
// archives staged by `docker cp` into it. The function's own filesystem does
// not exist before the start, but this is what it will begin with.
type createdFS struct {
	b   *Backend
	ctr *Container
	// entries by clean absolute path: the image's headers, replaced by
	// staged ones; staged data by path.
	entries map[string]*tar.Header
	staged  map[string][]byte
	order   []string // staged paths, in the order they were copied in
}

// imageIndexes caches the headers of flattened images, by ECR reference.
var imageIndexes = struct {
	sync.Mutex
	m map[string]map[string]*tar.Header
}{m: map[string]map[string]*tar.Header{}}

// imageTar streams the image's flattened filesystem.
func (b *Backend) imageTar(ctx context.Context, ctr *Container) (io.ReadCloser, error) {
	if ctr.Image == nil || ctr.Image.ECRRef == "" {
		return nil, fmt.Errorf("container %s has no image in ECR", ctr.ID)
	}
	auth, _, err := b.registry.credentials(ctx)
	if err != nil {
		return nil, err
	}
	ref, err := b.registry.parse(ctr.Image.ECRRef)
	if err != nil {
		return nil, fmt.Errorf("image reference %s: %w", ctr.Image.ECRRef, err)
	}
	img, err := remote.Image(ref, b.registry.options(ctx, auth)...)
	if err != nil {
		return nil, fmt.Errorf("read image %s from ECR: %w", ctr.Image.ECRRef, err)
	}
	return mutate.Extract(img), nil
}

func entryPath(name string) string { return path.Clean("/" + name) }

// newCreatedFS indexes ctr's image (cached) and its staged archives.
func (b *Backend) newCreatedFS(ctx context.Context, ctr *Container) (*createdFS, error) {
	if ctr.Image == nil || ctr.Image.ECRRef == "" {
		return nil, fmt.Errorf("container %s has no image in ECR", ctr.ID)
	}
	imageIndexes.Lock()
	idx := imageIndexes.m[ctr.Image.ECRRef]
	imageIndexes.Unlock()
	if idx == nil {
		rc, err := b.imageTar(ctx, ctr)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		idx = map[string]*tar.Header{}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("read image %s: %w", ctr.Image.ECRRef, err)
			}
			idx[entryPath(h.Name)] = h
		}
		imageIndexes.Lock()
		if len(imageIndexes.m) >= 32 {
			clear(imageIndexes.m)
		}
		imageIndexes.m[ctr.Image.ECRRef] = idx
		imageIndexes.Unlock()
	}
	fs := &createdFS{b: b, ctr: ctr, entries: make(map[string]*tar.Header, len(idx)), staged: map[string][]byte{}}
	for p, h := range idx {
		fs.entries[p] = h
	}
	// A mount hides what the image has at its path: an empty directory
	// here (a volume's files are on EFS, where only functions reach).
	for _, m := range ctr.Mounts {
		for p := range fs.entries {
			if p == m.Path || strings.HasPrefix(p, m.Path+"/") {
				delete(fs.entries, p)
			}
		}
		for dir := m.Path; dir != "/"; dir = path.Dir(dir) {
			if _, ok := fs.entries[dir]; !ok || dir == m.Path {
				fs.entries[dir] = &tar.Header{Typeflag: tar.TypeDir, Name: dir[1:] + "/", Mode: 0o755, ModTime: ctr.Created}
			}
		}
	}
	for _, a := range b.agents.staged.list(ctr.ID) {
		tr := tar.NewReader(bytes.NewReader(a.tar))
		for {
			h, err := tr.Next()
			if err != nil {
				break // checked when staged
			}
			data, _ := io.ReadAll(tr)
			p := path.Join(a.path, entryPath(h.Name))
			if _, seen := fs.staged[p]; !seen {
				fs.order = append(fs.order, p)
			}
			fs.entries[p], fs.staged[p] = h, data
		}
	}
	return fs, nil
}

// resolve follows the symbolic links of p's parent directories (not of p
// itself, as Docker's archive endpoints do), within the filesystem.
func (fs *createdFS) resolve(p string) (string, error) {
	p = path.Clean(p)
	for hops := 0; ; hops++ {
		if hops > 40 {
			return "", notFound("Could not find the file %s in container %s", p, fs.ctr.ID)
		}
		changed := false
		parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
		cur := "/"
		for i, part := range parts[:len(parts)-1] {
			next := path.Join(cur, part)
			if h := fs.entries[next]; h != nil && h.Typeflag == tar.TypeSymlink {
				target := h.Linkname
				if !path.IsAbs(target) {
					target = path.Join(cur, target)
				}
				p = path.Join(append([]string{target}, parts[i+1:]...)...)
				changed = true
				break
			}
			cur = next
		}
		if !changed {
			return p, nil
		}
	}
}

// stat is the PathStat of p; 404 when it is not in the filesystem.
func (fs *createdFS) stat(p string) (string, *protocol.PathStat, error) {
	rp, err := fs.resolve(p)
	if err != nil {
		return "", nil, err
	}
	h := fs.entries[rp]
	if h == nil {
		if rp == "/" || rp == "/tmp" {
			return rp, &protocol.PathStat{Name: path.Base(rp), Mode: uint32(os.ModeDir | 0o777), Mtime: fs.ctr.Created}, nil
		}
		return "", nil, notFound("Could not find the file %s in container %s", p, fs.ctr.ID)
	}
	st := &protocol.PathStat{Name: path.Base(rp), Size: h.Size, Mode: uint32(h.FileInfo().Mode()), Mtime: h.ModTime}
	if h.Typeflag == tar.TypeSymlink {
		st.LinkTarget = h.Linkname
		if !path.IsAbs(st.LinkTarget) {
			st.LinkTarget = path.Join(path.Dir(rp), st.LinkTarget)
		}
	}
	return rp, st, nil
}

// under reports whether p is root or inside it.
func under(p, root string) bool {
	return p == root || root == "/" || strings.HasPrefix(p, root+"/")
}

// writeTar writes the tar of rp (a resolved path) rooted at base, as Docker
// does: "." for a path ending in "/.". Hard links to files outside the copy
// become files.
func (fs *createdFS) writeTar(ctx context.Context, rp, base string, w io.Writer) error {
	rename := func(p string) string {
		if p == rp {
			return base
		}
		rel := strings.TrimPrefix(p, rp)
		if rp == "/" {
			rel = p
		}
		return path.Join(base, strings.TrimPrefix(rel, "/"))
	}
	// The targets of hard links that are copied while their target is not.
	need := map[string]bool{}
	for p, h := range fs.entries {
		if h.Typeflag == tar.TypeLink && under(p, rp) {
			if t := entryPath(h.Linkname); !under(t, rp) || fs.staged[t] != nil {
				need[t] = true
			}
		}
	}
	tw := tar.NewWriter(w)
	held := map[string][]byte{}
	emit := func(p string, h *tar.Header, data io.Reader) error {
		hh := *h
		hh.Name = rename(p)
		if len(h.PAXRecords) > 0 { // the old names must not override the new ones
			hh.PAXRecords = map[string]string{}
			for k, v := range h.PAXRecords {
				if k != "path" && k != "linkpath" {
					hh.PAXRecords[k] = v
				}
			}
		}
		if hh.Typeflag == tar.TypeDir && !strings.HasSuffix(hh.Name, "/") {
			hh.Name += "/"
		}
		if hh.Typeflag == tar.TypeLink {
			t := entryPath(h.Linkname)
			if data, ok := held[t]; ok && (need[t] || !under(t, rp)) {
				hh.Typeflag, hh.Linkname, hh.Size = tar.TypeReg, "", int64(len(data))
				if th := fs.entries[t]; th != nil {
					hh.Mode = th.Mode
				}
				if err := tw.WriteHeader(&hh); err != nil {
					return err
				}
				_, err := tw.Write(data)
				return err
			}
			hh.Linkname = rename(t)
		}
		if err := tw.WriteHeader(&hh); err != nil {
			return err
		}
		if data != nil && hh.Typeflag == tar.TypeReg {
			_, err := io.Copy(tw, data)
			return err
		}
		return nil
	}
	if h := fs.entries[rp]; h == nil && (rp == "/" || rp == "/tmp") {
		if err := emit(rp, &tar.Header{Typeflag: tar.TypeDir, Mode: 0o777, ModTime: fs.ctr.Created}, nil); err != nil {
			return err
		}
	}
	for t := range need {
		if data, ok := fs.staged[t]; ok {
			held[t] = data
		}
	}
	rc, err := fs.b.imageTar(ctx, fs.ctr)
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read image %s: %w", fs.ctr.Image.ECRRef, err)
		}
		p := entryPath(h.Name)
		if _, restaged := fs.staged[p]; restaged {
			continue
		}
		var data io.Reader = tr
		if need[p] && h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				return err
			}
			held[p] = b
			data = bytes.NewReader(b)
		}
		if h.Typeflag == tar.TypeLink {
			if b, ok := held[entryPath(h.Linkname)]; ok && need[p] {
				held[p] = b // a link to a link's target
			}
		}
		if under(p, rp) {
			if err := emit(p, h, data); err != nil {
				return err
			}
		}
	}
	for _, p := range fs.order {
		if under(p, rp) {
			if err := emit(p, fs.entries[p], bytes.NewReader(fs.staged[p])); err != nil {
				return err
			}
		}
	}
	return tw.Close()
}
