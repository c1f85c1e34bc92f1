package backend

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/gin-gonic/gin"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// maxStaged bounds what `docker cp` into a container that has not started yet
// may hold in the backend until the start.
const maxStaged = 64 << 20

// stagedArchives holds the tars copied into containers before their start.
// The function's filesystem does not exist before the invocation, so the
// backend keeps them, the start carries HoldStart, and the agent extracts
// them (over archive streams) before it starts the process.
type stagedArchives struct {
	mu sync.Mutex
	m  map[string][]stagedArchive // by container ID
}

type stagedArchive struct {
	path        string
	noOverwrite bool
	tar         []byte
}

func newStagedArchives() *stagedArchives { return &stagedArchives{m: map[string][]stagedArchive{}} }

func (s *stagedArchives) has(cid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m[cid]) > 0
}

func (s *stagedArchives) add(cid string, a stagedArchive) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	total := len(a.tar)
	for _, old := range s.m[cid] {
		total += len(old.tar)
	}
	if total > maxStaged {
		return errorf(http.StatusRequestEntityTooLarge, "copying more than %d MiB into a container before it starts is not supported: start it, then copy", maxStaged>>20)
	}
	s.m[cid] = append(s.m[cid], a)
	return nil
}

// list is what is staged for cid, left in place.
func (s *stagedArchives) list(cid string) []stagedArchive {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]stagedArchive(nil), s.m[cid]...)
}

func (s *stagedArchives) take(cid string) []stagedArchive {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.m[cid]
	delete(s.m, cid)
	return out
}

// applyStaged extracts the staged archives through the agent, then releases
// the process; a failed copy fails the start with its message.
func (b *Backend) applyStaged(r *run) {
	start := protocol.Message{Type: protocol.MsgStart}
	for _, a := range b.agents.staged.take(r.container.ID) {
		if _, err := r.archive(protocol.StreamHeader{Op: protocol.ArchivePut, Path: a.path, NoOverwriteDirNonDir: a.noOverwrite}, bytes.NewReader(a.tar), nil); err != nil {
			start.Error = fmt.Sprintf("copying files into the container before its start: %s", err)
			break
		}
	}
	r.send(start)
}

// archive runs one file operation through the agent. For a put, body is the
// tar; for a get, out receives the tar after the stat was returned. The
// error carries the HTTP status Docker would give.
func (r *run) archive(h protocol.StreamHeader, body io.Reader, out func(*protocol.PathStat) io.Writer) (*protocol.PathStat, error) {
	h.Kind = protocol.StreamArchive
	st, err := r.openAgentStream(h)
	if err != nil {
		return nil, conflict("%s", err)
	}
	defer st.Close()
	if h.Op == protocol.ArchivePut {
		if _, err := io.Copy(st, body); err != nil {
			return nil, fmt.Errorf("send the archive to the container: %w", err)
		}
		st.Close() // half-close: the end of the tar
	}
	br := bufio.NewReader(st)
	line, err := br.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("the container's agent did not answer: %w", err)
	}
	var reply protocol.ArchiveReply
	if err := json.Unmarshal(line, &reply); err != nil {
		return nil, fmt.Errorf("the container's agent answered badly: %w", err)
	}
	if reply.Error != "" {
		switch reply.ErrorKind {
		case protocol.ErrNotFound:
			return nil, notFound("Could not find the file %s in container %s", h.Path, r.container.ID)
		case protocol.ErrReadOnly:
			return nil, errorf(http.StatusForbidden, "%s", reply.Error)
		case protocol.ErrInvalid:
			return nil, badRequest("%s", reply.Error)
		}
		return nil, fmt.Errorf("%s", reply.Error)
	}
	if h.Op == protocol.ArchiveGet && out != nil {
		if _, err := io.Copy(out(reply.Stat), br); err != nil {
			return reply.Stat, fmt.Errorf("copy from the container: %w", err)
		}
	}
	return reply.Stat, nil
}

// archiveRun is the run that serves file operations on ctr, waiting a
// little for its agent when the container has just started.
func (b *Backend) archiveRun(ctr *Container) (*run, error) {
	r, err := b.runningRun(ctr)
	if err != nil {
		if b.store.Snap(ctr).Status == stateExited {
			return nil, conflict("container %s has exited: its filesystem was the Lambda function's, and what the process wrote is gone with the environment", ctr.ID)
		}
		return nil, conflict("container %s is not running: a Lambda function's filesystem exists only while it runs", ctr.ID)
	}
	select {
	case <-r.connected:
		return r, nil
	case <-r.done:
	case <-time.After(30 * time.Second):
	}
	return nil, conflict("container %s: its agent is not connected", ctr.ID)
}

func setStatHeader(c *gin.Context, st *protocol.PathStat) {
	b, _ := json.Marshal(container.PathStat{Name: st.Name, Size: st.Size, Mode: os.FileMode(st.Mode), Mtime: st.Mtime, LinkTarget: st.LinkTarget})
	c.Header("X-Docker-Container-Path-Stat", base64.StdEncoding.EncodeToString(b))
}

func archivePath(c *gin.Context) (string, error) {
	p := c.Query("path")
	if p == "" {
		return "", badRequest("path is required")
	}
	if !path.IsAbs(p) {
		p = "/" + p // relative to the working directory, which is / unless set
	}
	return p, nil
}

// handleArchiveHead serves HEAD /containers/{id}/archive: the path's stat.
// Before the start it is read from the image, overlaid with what was copied
// in (createdFS); a path that is in neither is 404, and the CLI then copies
// into its parent, which the agent checks at the start.
func (b *Backend) handleArchiveHead(c *gin.Context) {
	ctr, p, ok := b.archiveTarget(c)
	if !ok {
		return
	}
	if b.store.Snap(ctr).Status == stateCreated {
		fs, err := b.newCreatedFS(c.Request.Context(), ctr)
		if err != nil {
			// Without the image, / and /tmp are still known to exist.
			slog.Warn("docker cp before start: image not readable", "container", ctr.ID[:12], "err", err)
			fs = &createdFS{b: b, ctr: ctr, entries: map[string]*tar.Header{}}
		}
		_, st, err := fs.stat(p)
		if err != nil {
			writeError(c, err)
			return
		}
		setStatHeader(c, st)
		c.Status(http.StatusOK)
		return
	}
	r, err := b.archiveRun(ctr)
	if err != nil {
		writeError(c, err)
		return
	}
	st, err := r.archive(protocol.StreamHeader{Op: protocol.ArchiveStat, Path: p}, nil, nil)
	if err != nil {
		writeError(c, err)
		return
	}
	setStatHeader(c, st)
	c.Status(http.StatusOK)
}

// handleArchiveGet serves GET /containers/{id}/archive: a tar of the path.
// Before the start it comes from the image, overlaid with what was copied in.
func (b *Backend) handleArchiveGet(c *gin.Context) {
	ctr, p, ok := b.archiveTarget(c)
	if !ok {
		return
	}
	if b.store.Snap(ctr).Status == stateCreated {
		b.archiveGetCreated(c, ctr, p)
		return
	}
	r, err := b.archiveRun(ctr)
	if err != nil {
		writeError(c, err)
		return
	}
	wrote := false
	_, err = r.archive(protocol.StreamHeader{Op: protocol.ArchiveGet, Path: p}, nil, func(st *protocol.PathStat) io.Writer {
		setStatHeader(c, st)
		c.Header("Content-Type", "application/x-tar")
		c.Status(http.StatusOK)
		wrote = true
		return c.Writer
	})
	if err != nil {
		if !wrote {
			writeError(c, err)
			return
		}
		// Headers are out: cutting the tar short is all that is left.
		slog.Warn("docker cp from container cut short", "container", ctr.ID[:12], "path", p, "err", err)
	}
}

// handleArchivePut serves PUT /containers/{id}/archive: extract a tar into
// the directory path.
func (b *Backend) handleArchivePut(c *gin.Context) {
	ctr, p, ok := b.archiveTarget(c)
	if !ok {
		return
	}
	h := protocol.StreamHeader{Op: protocol.ArchivePut, Path: p, NoOverwriteDirNonDir: boolQuery(c, "noOverwriteDirNonDir")}
	body, err := decompressed(c.Request.Body)
	if err != nil {
		writeError(c, err)
		return
	}
	if b.store.Snap(ctr).Status == stateCreated {
		data, err := io.ReadAll(io.LimitReader(body, maxStaged+1))
		if err == nil && len(data) <= maxStaged {
			err = checkTar(data) // a larger one is refused by add
		}
		if err == nil {
			err = b.agents.staged.add(ctr.ID, stagedArchive{path: p, noOverwrite: h.NoOverwriteDirNonDir, tar: data})
		}
		if err != nil {
			writeError(c, err)
			return
		}
		c.Status(http.StatusOK)
		return
	}
	r, err := b.archiveRun(ctr)
	if err != nil {
		writeError(c, err)
		return
	}
	if _, err := r.archive(h, body, nil); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusOK)
}

func (b *Backend) archiveTarget(c *gin.Context) (*Container, string, bool) {
	ctr, err := b.store.Lookup(c.Param("id"))
	if err != nil {
		writeError(c, err)
		return nil, "", false
	}
	p, err := archivePath(c)
	if err != nil {
		writeError(c, err)
		return nil, "", false
	}
	return ctr, p, true
}

// archiveGetCreated serves a GET for a container that has not started: the
// tar is built from the image's layers and the staged archives.
func (b *Backend) archiveGetCreated(c *gin.Context, ctr *Container, p string) {
	fs, err := b.newCreatedFS(c.Request.Context(), ctr)
	if err != nil {
		writeError(c, err)
		return
	}
	rp, st, err := fs.stat(p)
	if err != nil {
		writeError(c, err)
		return
	}
	base := st.Name
	if strings.HasSuffix(p, "/.") {
		base = "."
	}
	setStatHeader(c, st)
	c.Header("Content-Type", "application/x-tar")
	c.Status(http.StatusOK)
	if err := fs.writeTar(c.Request.Context(), rp, base, c.Writer); err != nil {
		slog.Warn("docker cp from created container cut short", "container", ctr.ID[:12], "path", p, "err", err)
	}
}
