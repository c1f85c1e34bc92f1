package backend

import (
	"bytes"
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
	b       *Backend
	group   string
	tokens  map[string]string            // stream → forward token
	exits   map[string]protocol.ExitInfo // exit records read, by request ID
	ended   map[string]bool              // request IDs whose invocation Lambda reported over (REPORT)
	current map[string]string            // stream → the request ID of its last START line
}

// logLine is one of the agent's lines, with the invocation (the run) that
// wrote it.
type logLine struct {
	protocol.LogLine
	request string
}

func (b *Backend) newLogReader(group string) *logReader {
	return &logReader{b: b, group: group, tokens: map[string]string{}, exits: map[string]protocol.ExitInfo{},
		ended: map[string]bool{}, current: map[string]string{}}
}

// next returns the lines written since the last call, oldest first.
func (lr *logReader) next(ctx context.Context, streams []string) ([]logLine, error) {
	var out []logLine
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
					} else if id, found := strings.CutPrefix(msg, "START RequestId: "); found {
						id, _, _ = strings.Cut(id, " ")
						lr.current[stream] = strings.TrimSpace(id)
					}
				case exit != nil:
					lr.exits[exit.RequestID] = *exit
				default:
					out = append(out, logLine{LogLine: line, request: lr.current[stream]})
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
	// A follower subscribes before the history is read, so that the two
	// overlap rather than leave a hole.
	var f *follower
	var known map[string]int64
	if opts.follow && snap.Status == stateRunning && snap.Run != nil {
		f, known = ctr.hub.follow(snap.Run)
		defer ctr.hub.unfollow(f)
	}
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
	cut := 0
	if opts.tail >= 0 && len(lines) > opts.tail {
		cut = len(lines) - opts.tail
	}
	if f == nil {
		if w.writeAll(lines[cut:]) == nil {
			c.Writer.Flush()
		}
		return
	}
	r := snap.Run
	cur := newCursor(w, r, known)
	for i, l := range lines {
		var err error
		if cur.ours(l) {
			err = cur.fromCloudWatch(l, i >= cut)
		} else if i >= cut {
			err = w.write(l.Stream, []byte(l.Log), l.Time)
		}
		if err != nil {
			return
		}
	}
	c.Writer.Flush()
	b.followLive(ctx, lr, r, f, cur, c.Writer)
}

// awaitExitRecord reads on until the exit record of the container's last run
// is in CloudWatch, or a few seconds have passed.
func (b *Backend) awaitExitRecord(ctx context.Context, lr *logReader, ctr *Container, snap Snapshot, lines []logLine) ([]logLine, error) {
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

// logWriter writes output as Docker does: one stdcopy frame per piece (raw
// for a TTY), with an optional RFC 3339 timestamp at the start of each line.
type logWriter struct {
	stdout, stderr io.Writer
	opts           logOptions
	midLine        map[string]bool // by stream: the last piece did not end a line
}

func newLogWriter(w io.Writer, tty bool, opts logOptions) *logWriter {
	lw := &logWriter{stdout: w, stderr: w, opts: opts, midLine: map[string]bool{}}
	if !tty {
		lw.stdout = stdcopy.NewStdWriter(w, stdcopy.Stdout)
		lw.stderr = stdcopy.NewStdWriter(w, stdcopy.Stderr)
	}
	return lw
}

func (w *logWriter) writeAll(lines []logLine) error {
	for _, l := range lines {
		if err := w.write(l.Stream, []byte(l.Log), l.Time); err != nil {
			return err
		}
	}
	return nil
}

// write writes output of stream read at time at, unless the options leave it
// out.
func (w *logWriter) write(stream string, data []byte, at time.Time) error {
	if (!w.opts.since.IsZero() && at.Before(w.opts.since)) || (!w.opts.until.IsZero() && at.After(w.opts.until)) {
		return nil
	}
	out := w.stdout
	if stream == protocol.StreamStderr {
		if !w.opts.stderr {
			return nil
		}
		out = w.stderr
	} else if !w.opts.stdout {
		return nil
	}
	if !w.opts.timestamps {
		_, err := out.Write(data)
		return err
	}
	ts := at.UTC().Format("2006-01-02T15:04:05.000000000Z07:00") + " "
	for len(data) > 0 {
		piece := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			piece = data[:i+1]
		}
		data = data[len(piece):]
		msg := piece
		if !w.midLine[stream] {
			msg = append([]byte(ts), piece...)
		}
		w.midLine[stream] = piece[len(piece)-1] != '\n'
		if _, err := out.Write(msg); err != nil {
			return err
		}
	}
	return nil
}

func (lr *logReader) sawExit(requestID string) bool {
	_, ok := lr.exits[requestID]
	return ok
}
