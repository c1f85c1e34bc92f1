package backend

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/gin-gonic/gin"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// logReader reads a container's output from CloudWatch: the agent's
// LogLines in the log streams of the environments that ran it. It remembers
// where it stopped in each stream, so calling next again returns only what
// was written since.
type logReader struct {
	b      *Backend
	group  string
	tokens map[string]string            // stream → forward token
	exits  map[string]protocol.ExitInfo // exit records read, by request ID
	ended  map[string]bool              // request IDs whose invocation Lambda reported over (REPORT)
}

func (b *Backend) newLogReader(group string) *logReader {
	return &logReader{b: b, group: group, tokens: map[string]string{}, exits: map[string]protocol.ExitInfo{}, ended: map[string]bool{}}
}

// next returns the lines written since the last call, oldest first.
func (lr *logReader) next(ctx context.Context, streams []string) ([]protocol.LogLine, error) {
	var out []protocol.LogLine
	for _, stream := range streams {
		for {
			in := &cloudwatchlogs.GetLogEventsInput{
				LogGroupName:  aws.String(lr.group),
				LogStreamName: aws.String(stream),
				StartFromHead: aws.Bool(true),
			}
			prev, seen := lr.tokens[stream]
			if seen {
				in.NextToken = aws.String(prev)
			}
			resp, err := lr.b.aws.Logs.GetLogEvents(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("CloudWatch GetLogEvents %s %s: %w", lr.group, stream, err)
			}
			for _, ev := range resp.Events {
				msg := aws.ToString(ev.Message)
				line, exit, ok := protocol.ParseLogLine(msg)
				switch {
				case !ok:
					if id, found := strings.CutPrefix(msg, "REPORT RequestId: "); found {
						id, _, _ = strings.Cut(id, "\t")
						lr.ended[strings.TrimSpace(id)] = true
					}
				case exit != nil:
					lr.exits[exit.RequestID] = *exit
				default:
					out = append(out, line)
				}
			}
			next := aws.ToString(resp.NextForwardToken)
			lr.tokens[stream] = next
			// CloudWatch returns the token it was given at the end of a stream.
			if len(resp.Events) == 0 || next == prev {
				break
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// logOptions are the query parameters of GET /containers/{id}/logs.
type logOptions struct {
	stdout, stderr, follow, timestamps bool
	tail                               int // -1 for all
	since, until                       time.Time
}

func parseLogOptions(c *gin.Context) (logOptions, error) {
	o := logOptions{
		stdout: boolQuery(c, "stdout"), stderr: boolQuery(c, "stderr"),
		follow: boolQuery(c, "follow"), timestamps: boolQuery(c, "timestamps"), tail: -1,
	}
	if !o.stdout && !o.stderr {
		return o, badRequest("Bad parameters: you must choose at least one stream")
	}
	if t := c.Query("tail"); t != "" && t != "all" {
		if n, err := strconv.Atoi(t); err == nil && n >= 0 {
			o.tail = n
		}
	}
	var err error
	if o.since, err = parseDockerTime(c.Query("since")); err != nil {
		return o, badRequest("invalid value for since: %s", err)
	}
	if o.until, err = parseDockerTime(c.Query("until")); err != nil {
		return o, badRequest("invalid value for until: %s", err)
	}
	return o, nil
}

// parseDockerTime reads "<seconds>[.<nanoseconds>]"; "" and "0" are no limit.
func parseDockerTime(v string) (time.Time, error) {
	if v == "" || v == "0" {
		return time.Time{}, nil
	}
	secs, nanos, _ := strings.Cut(v, ".")
	s, err := strconv.ParseInt(secs, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	var n int64
	if nanos != "" {
		if n, err = strconv.ParseInt((nanos + "000000000")[:9], 10, 64); err != nil {
			return time.Time{}, err
		}
	}
	return time.Unix(s, n), nil
}

// handleContainerLogs serves GET /containers/{id}/logs from CloudWatch.
func (b *Backend) handleContainerLogs(c *gin.Context) {
	ctr, err := b.store.Lookup(c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	opts, err := parseLogOptions(c)
	if err != nil {
		writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	lr := b.newLogReader(ctr.LogGroup)
	snap := b.store.Snap(ctr)
	lines, err := lr.next(ctx, snap.LogStreams)
	if err == nil && snap.Status == stateExited {
		// The exit is known the moment the agent reports it; its last lines
		// may still be on their way to CloudWatch. The exit record comes
		// after them, so wait for it (bounded).
		lines, err = b.awaitExitRecord(ctx, lr, ctr, snap, lines)
	}
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("Content-Type", "application/vnd.docker.raw-stream")
	if !ctr.Config.Tty && apiVersionAtLeast(c, "1.42") {
		c.Header("Content-Type", "application/vnd.docker.multiplexed-stream")
	}
	c.Status(http.StatusOK)
	c.Writer.Flush()
	w := newLogWriter(c.Writer, ctr.Config.Tty, opts)
	if opts.tail >= 0 && len(lines) > opts.tail {
		lines = lines[len(lines)-opts.tail:]
	}
	if w.writeAll(lines) != nil {
		return
	}
	c.Writer.Flush()
	if !opts.follow || snap.Status != stateRunning {
		return
	}
	b.followLogs(ctx, lr, ctr, w, c.Writer)
}

// awaitExitRecord reads on until the exit record of the container's last run
// is in CloudWatch, or a few seconds have passed.
func (b *Backend) awaitExitRecord(ctx context.Context, lr *logReader, ctr *Container, snap Snapshot, lines []protocol.LogLine) ([]protocol.LogLine, error) {
	r := snap.Run
	if r == nil {
		return lines, nil
	}
	r.mu.Lock()
	reqID := r.requestID
	r.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for reqID != "" && !lr.sawExit(reqID) && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return lines, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		more, err := lr.next(ctx, b.store.Snap(ctr).LogStreams)
		if err != nil {
			return lines, err
		}
		lines = append(lines, more...)
	}
	return lines, nil
}

// followLogs streams new lines until the container stops.
func (b *Backend) followLogs(ctx context.Context, lr *logReader, ctr *Container, w *logWriter, f http.Flusher) {
	for {
		snap := b.store.Snap(ctr)
		if snap.Status != stateRunning {
			lines, _ := b.awaitExitRecord(ctx, lr, ctr, snap, nil)
			_ = w.writeAll(lines)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-snap.Changed:
		// Once a second: CloudWatch allows an account 25 GetLogEvents a
		// second, shared by every follower of every stream.
		case <-time.After(time.Second):
		}
		lines, err := lr.next(ctx, b.store.Snap(ctr).LogStreams)
		if err != nil {
			return
		}
		if w.writeAll(lines) != nil {
			return
		}
		f.Flush()
	}
}

// logWriter writes lines as Docker does: one stdcopy frame per line (raw for
// a TTY), with an optional RFC 3339 timestamp.
type logWriter struct {
	stdout, stderr io.Writer
	opts           logOptions
}

func newLogWriter(w io.Writer, tty bool, opts logOptions) *logWriter {
	lw := &logWriter{stdout: w, stderr: w, opts: opts}
	if !tty {
		lw.stdout = stdcopy.NewStdWriter(w, stdcopy.Stdout)
		lw.stderr = stdcopy.NewStdWriter(w, stdcopy.Stderr)
	}
	return lw
}

func (w *logWriter) writeAll(lines []protocol.LogLine) error {
	for _, l := range lines {
		if !w.opts.since.IsZero() && l.Time.Before(w.opts.since) {
			continue
		}
		if !w.opts.until.IsZero() && l.Time.After(w.opts.until) {
			continue
		}
		out := w.stdout
		if l.Stream == protocol.StreamStderr {
			if !w.opts.stderr {
				continue
			}
			out = w.stderr
		} else if !w.opts.stdout {
			continue
		}
		msg := l.Log
		if w.opts.timestamps {
			msg = l.Time.UTC().Format("2006-01-02T15:04:05.000000000Z07:00") + " " + msg
		}
		if _, err := out.Write([]byte(msg)); err != nil {
			return err
		}
	}
	return nil
}

func (lr *logReader) sawExit(requestID string) bool {
	_, ok := lr.exits[requestID]
	return ok
}
