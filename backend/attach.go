package backend

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/gin-gonic/gin"
	"github.com/moby/term"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// stdinPipe carries an attached client's stdin to the agent. Writes block
// until the agent reads, so a process that does not read slows the client.
type stdinPipe struct {
	r    *io.PipeReader
	w    *io.PipeWriter
	once sync.Once
}

func newStdinPipe() *stdinPipe {
	r, w := io.Pipe()
	return &stdinPipe{r: r, w: w}
}

func (p *stdinPipe) reader() io.Reader { return p.r }

// closeWrite is EOF for the process.
func (p *stdinPipe) closeWrite() { p.once.Do(func() { _ = p.w.Close() }) }

// hijack takes over the connection and answers 101 UPGRADED exactly as the
// Docker daemon does; current clients refuse anything else.
func hijack(c *gin.Context, tty bool) (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := c.Writer.Hijack()
	if err != nil {
		return nil, nil, err
	}
	contentType := "application/vnd.docker.raw-stream"
	if !tty && apiVersionAtLeast(c, "1.42") {
		contentType = "application/vnd.docker.multiplexed-stream"
	}
	if c.GetHeader("Upgrade") != "" {
		_, err = rw.WriteString("HTTP/1.1 101 UPGRADED\r\nContent-Type: " + contentType + "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
	} else {
		_, err = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: " + contentType + "\r\n\r\n")
	}
	if err == nil {
		err = rw.Flush()
	}
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, rw, nil
}

// connWriter writes to the hijacked connection; attachment.mu serialises frames.
type connWriter struct{ conn net.Conn }

func (w connWriter) Write(p []byte) (int, error) { return w.conn.Write(p) }

// handleContainerAttach serves POST /containers/{id}/attach.
func (b *Backend) handleContainerAttach(c *gin.Context) {
	ctr, err := b.store.Lookup(c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	stream := boolQuery(c, "stream")
	wantStdin, wantStdout, wantStderr := boolQuery(c, "stdin"), boolQuery(c, "stdout"), boolQuery(c, "stderr")
	detachKeys, err := term.ToBytes(c.DefaultQuery("detachKeys", "ctrl-p,ctrl-q"))
	if err != nil {
		writeError(c, badRequest("Invalid detach keys (%s) provided", c.Query("detachKeys")))
		return
	}
	tty := ctr.Config.Tty
	conn, rw, err := hijack(c, tty)
	if err != nil {
		return
	}
	defer conn.Close()
	snap := b.store.Snap(ctr)
	a := newAttachment()
	out := connWriter{conn}
	if wantStdout {
		a.stdout = out
		if !tty {
			a.stdout = stdcopy.NewStdWriter(out, stdcopy.Stdout)
		}
	}
	if wantStderr {
		a.stderr = out
		if !tty {
			a.stderr = stdcopy.NewStdWriter(out, stdcopy.Stderr)
		} else if wantStdout {
			a.stderr = nil // a TTY merges stderr into stdout
		}
	}
	// With logs=1 the stored output comes first. The attachment is held
	// while it is written, so that live output follows it, in order.
	a.mu.Lock()
	ctr.hub.add(a)
	defer ctr.hub.remove(a)
	if boolQuery(c, "logs") {
		b.replayLogs(c.Request.Context(), ctr, snap, a)
	}
	a.mu.Unlock()
	if !stream || snap.Status == stateExited || snap.Removed {
		closeWrite(conn)
		return
	}

	if wantStdin && ctr.stdin != nil {
		go func() {
			// Read-EOF is the client's stdin ending (a half-close), not the
			// client leaving.
			// As dockerd: the detach keys are watched for on a TTY only.
			var in io.Reader = rw
			if tty {
				in = term.NewEscapeProxy(rw, detachKeys)
			}
			_, err := io.Copy(ctr.stdin.w, in)
			if errors.As(err, &term.EscapeError{}) {
				// The detach keys: the client leaves, the container runs on.
				b.containerEvent(ctr, events.ActionDetach, nil)
				a.close()
				return
			}
			if tty {
				// As dockerd: the end of a client's input ends its attach,
				// never the terminal's. The docker CLI closes the connection
				// when it has seen the detach keys itself; `docker attach`
				// must find the process's input open afterwards.
				a.close()
				return
			}
			if ctr.Config.StdinOnce {
				ctr.stdin.closeWrite()
			}
		}()
	}
	select {
	case <-a.done:
	case <-snap.Run.doneOrNil():
	}
	closeWrite(conn)
}

// doneOrNil is the run's done channel, or nil (wait forever) before a run.
func (r *run) doneOrNil() <-chan struct{} {
	if r == nil {
		return nil
	}
	return r.done
}

func closeWrite(conn net.Conn) {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
}

// replayLogs writes the container's stored output to a, for attach logs=1.
func (b *Backend) replayLogs(ctx context.Context, ctr *Container, snap Snapshot, a *attachment) {
	lr := b.newLogReader(ctr.LogGroup)
	lines, err := lr.next(ctx, snap.LogStreams)
	if err == nil && snap.Status == stateExited {
		// As for docker logs: the last lines may still be on their way.
		lines, err = b.awaitExitRecord(ctx, lr, ctr, snap, lines)
	}
	if err != nil {
		slog.Warn("attach logs=1: reading stored output", "container", ctr.ID[:12], "err", err)
		return
	}
	for _, l := range lines {
		w := a.stdout
		if l.Stream == protocol.StreamStderr {
			w = a.stderr
		}
		if w != nil {
			if _, err := w.Write([]byte(l.Log)); err != nil {
				return
			}
		}
	}
}
