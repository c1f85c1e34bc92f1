package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
)

// The journal keeps each container's record in AWS, so that a backend
// restarted from nothing rebuilds `docker ps`, `inspect`, `wait` and `logs`:
// one CloudWatch Logs stream per container, "sockerless/containers/<id>", in
// the journal log group, holding one JSON event per change (created,
// started, exited, renamed, a new log stream). The journals have a group of
// their own, apart from the functions' output: the functions' role cannot
// write to it (a container cannot forge the backend's records), and the
// functions' log retention does not expire a long-lived container's record.
const journalPrefix = "sockerless/containers/"

// Journal entry kinds.
const (
	entryCreate     = "create"
	entryStart      = "start"
	entryExit       = "exit"
	entryRename     = "rename"
	entryLogStream  = "logstream"
	entryUpdate     = "update"
	entryConnect    = "connect"
	entryDisconnect = "disconnect"
	entryRestarted  = "restarted" // a start by docker restart or the restart policy: RestartCount
	entryStopped    = "stopped"   // docker stop or kill: no restart by policy (unless-stopped)
)

// journalEntry is one event of a container's journal.
type journalEntry struct {
	Kind string    `json:"kind"`
	Time time.Time `json:"time"`

	// create
	Create *createRecord `json:"create,omitempty"`
	// start
	RequestID string `json:"requestId,omitempty"`
	RunID     string `json:"runId,omitempty"`
	ByUser    bool   `json:"byUser,omitempty"` // not by the restart policy: RestartCount starts again
	// exit
	ExitCode *int   `json:"exitCode,omitempty"`
	Error    string `json:"error,omitempty"`
	// rename
	Name string `json:"name,omitempty"`
	// logstream
	LogStream string `json:"logStream,omitempty"`
	// update
	Memory        int64                    `json:"memory,omitempty"`
	RestartPolicy *container.RestartPolicy `json:"restartPolicy,omitempty"`
	// connect, disconnect
	Network  string                    `json:"network,omitempty"`
	Endpoint *network.EndpointSettings `json:"endpoint,omitempty"`
}

// createRecord is everything `docker inspect` shows that does not change.
type createRecord struct {
	ID               string                    `json:"id"`
	Name             string                    `json:"name"`
	Created          time.Time                 `json:"created"`
	Config           *container.Config         `json:"config"`
	HostConfig       *container.HostConfig     `json:"hostConfig"`
	NetworkingConfig *network.NetworkingConfig `json:"networkingConfig"`
	Image            *Image                    `json:"image"`
	FunctionName     string                    `json:"functionName"`
	FunctionARN      string                    `json:"functionArn"`
	LogGroup         string                    `json:"logGroup"`
	Mounts           []mountSpec               `json:"mounts,omitempty"`
}

type journal struct {
	b *Backend
	// One lock per stream orders its appends (a journal is read in time
	// order); different containers' journals are written in parallel.
	locks sync.Map // stream → *sync.Mutex
}

func journalStream(id string) string { return journalPrefix + id }

// create starts the container's journal with its create record.
func (j *journal) create(ctx context.Context, c *Container, name string) error {
	if err := j.ensureStream(ctx, journalStream(c.ID)); err != nil {
		return err
	}
	return j.put(ctx, journalStream(c.ID), c.Created, journalEntry{Kind: entryCreate, Time: c.Created, Create: &createRecord{
		ID: c.ID, Name: name, Created: c.Created, Config: c.Config, HostConfig: c.HostConfig,
		NetworkingConfig: c.NetworkingConfig, Image: c.Image, FunctionName: c.FunctionName,
		FunctionARN: c.FunctionARN, LogGroup: c.LogGroup, Mounts: c.Mounts,
	}})
}

// append records a change. A failure is logged, not returned: the change has
// happened; only its durability across a backend restart is lost.
func (j *journal) append(c *Container, e journalEntry) {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	if err := j.put(context.Background(), journalStream(c.ID), e.Time, e); err != nil {
		slog.Error("container journal write failed: this change will not survive a backend restart",
			"container", c.ID[:12], "kind", e.Kind, "err", err)
	}
}

func (j *journal) ensureStream(ctx context.Context, stream string) error {
	_, err := j.b.aws.Logs.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{
		LogGroupName: aws.String(j.b.cfg.JournalLogGroup), LogStreamName: aws.String(stream),
	})
	var exists *cwtypes.ResourceAlreadyExistsException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("CloudWatch CreateLogStream %s: %w", stream, err)
	}
	return nil
}

// put appends one JSON event to a journal stream.
func (j *journal) put(ctx context.Context, stream string, at time.Time, v any) error {
	msg, err := json.Marshal(v)
	if err != nil {
		return err
	}
	l, _ := j.locks.LoadOrStore(stream, &sync.Mutex{})
	mu := l.(*sync.Mutex)
	mu.Lock()
	defer mu.Unlock()
	_, err = j.b.aws.Logs.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{
		LogGroupName:  aws.String(j.b.cfg.JournalLogGroup),
		LogStreamName: aws.String(stream),
		LogEvents:     []cwtypes.InputLogEvent{{Timestamp: aws.Int64(at.UnixMilli()), Message: aws.String(string(msg))}},
	})
	if err != nil {
		return fmt.Errorf("CloudWatch PutLogEvents to journal %s: %w", stream, err)
	}
	return nil
}

// remove deletes the container's journal.
func (j *journal) remove(ctx context.Context, id string) error {
	return j.b.deleteLogStream(ctx, j.b.cfg.JournalLogGroup, journalStream(id))
}

// record appends an entry to a shared journal stream (images, networks),
// creating the stream the first time. A failure is logged: the change has
// happened, only its durability across a backend restart is lost.
func (j *journal) record(stream string, e any) {
	ctx := context.Background()
	err := j.ensureStream(ctx, stream)
	if err == nil {
		err = j.put(ctx, stream, time.Now(), e)
	}
	if err != nil {
		slog.Error("journal write failed: this change will not survive a backend restart", "stream", stream, "err", err)
	}
}

// list returns the IDs of every container with a journal.
func (j *journal) list(ctx context.Context) ([]string, error) {
	var ids []string
	p := cloudwatchlogs.NewDescribeLogStreamsPaginator(j.b.aws.Logs, &cloudwatchlogs.DescribeLogStreamsInput{
		LogGroupName: aws.String(j.b.cfg.JournalLogGroup), LogStreamNamePrefix: aws.String(journalPrefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("CloudWatch DescribeLogStreams of container journals: %w", err)
		}
		for _, s := range page.LogStreams {
			ids = append(ids, strings.TrimPrefix(aws.ToString(s.LogStreamName), journalPrefix))
		}
	}
	return ids, nil
}

// read returns a container's journal, oldest first.
func (j *journal) read(ctx context.Context, id string) ([]journalEntry, error) {
	var out []journalEntry
	err := readEntries(ctx, j, journalStream(id), func(e journalEntry) { out = append(out, e) })
	return out, err
}

// readEntries calls fn with each entry of a journal stream, decoded, oldest
// first.
func readEntries[T any](ctx context.Context, j *journal, stream string, fn func(T)) error {
	return j.readStream(ctx, stream, func(raw []byte) error {
		var e T
		if err := json.Unmarshal(raw, &e); err != nil {
			return fmt.Errorf("journal %s: bad entry: %w", stream, err)
		}
		fn(e)
		return nil
	})
}

// readStream calls fn with each event of a journal stream, oldest first. A
// stream that does not exist is empty.
func (j *journal) readStream(ctx context.Context, stream string, fn func([]byte) error) error {
	var token *string
	for {
		resp, err := j.b.aws.Logs.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{
			LogGroupName: aws.String(j.b.cfg.JournalLogGroup), LogStreamName: aws.String(stream),
			StartFromHead: aws.Bool(true), NextToken: token,
		})
		var nf *cwtypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("CloudWatch GetLogEvents of journal %s: %w", stream, err)
		}
		for _, ev := range resp.Events {
			if err := fn([]byte(aws.ToString(ev.Message))); err != nil {
				return err
			}
		}
		if len(resp.Events) == 0 || aws.ToString(resp.NextForwardToken) == aws.ToString(token) {
			return nil
		}
		token = resp.NextForwardToken
	}
}

// deleteLogStream deletes a log stream; one already gone is not an error.
func (b *Backend) deleteLogStream(ctx context.Context, group, stream string) error {
	_, err := b.aws.Logs.DeleteLogStream(ctx, &cloudwatchlogs.DeleteLogStreamInput{
		LogGroupName: aws.String(group), LogStreamName: aws.String(stream),
	})
	var nf *cwtypes.ResourceNotFoundException
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("CloudWatch DeleteLogStream %s: %w", stream, err)
	}
	return nil
}
