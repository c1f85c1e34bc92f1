package backend

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/docker/docker/api/types/network"
)

// recover rebuilds the containers from AWS when the backend starts: the
// journals in CloudWatch say what each container is, Lambda says whether its
// function still exists, and the functions' logs say how running containers
// ended while no backend was watching.
func (b *Backend) recover(ctx context.Context) error {
	if err := b.recoverImages(ctx); err != nil {
		return err
	}
	if err := b.recoverNetworks(ctx); err != nil {
		return err
	}
	if err := b.recoverVolumes(ctx); err != nil {
		return err
	}
	ids, err := b.journal.list(ctx)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	functions, err := b.functionNames(ctx)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := b.recoverContainer(ctx, id, functions); err != nil {
				slog.Error("container not recovered", "container", id, "err", err)
			}
		}()
	}
	wg.Wait()
	slog.Info("containers recovered from AWS", "count", len(b.store.List()))
	return nil
}

// functionNames lists every function in the account and region, once.
func (b *Backend) functionNames(ctx context.Context) (map[string]bool, error) {
	names := map[string]bool{}
	p := lambda.NewListFunctionsPaginator(b.aws.Lambda, &lambda.ListFunctionsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("Lambda ListFunctions: %w", err)
		}
		for _, f := range page.Functions {
			names[aws.ToString(f.FunctionName)] = true
		}
	}
	return names, nil
}

func (b *Backend) recoverContainer(ctx context.Context, id string, functions map[string]bool) error {
	entries, err := b.journal.read(ctx, id)
	if err != nil {
		return err
	}
	c, runEntry := replay(entries)
	if c == nil {
		return fmt.Errorf("journal has no create record")
	}
	if !functions[c.FunctionName] {
		// The function is gone (removed while the backend was down, or
		// the removal was cut short): so is the container.
		return b.journal.remove(ctx, id)
	}
	b.store.PutImage(c.Image)
	if err := b.store.Reserve(c, c.name); err != nil {
		return err
	}
	b.relinkNetworks(c)
	if c.status != stateRunning {
		return nil
	}
	inv := b.invocationFor(c, "")
	inv.RunID = runEntry.RunID // only this run's agent may redial
	r := newRun(c, "", inv)
	r.requestID = runEntry.RequestID
	b.agents.issue(r)
	b.store.Update(c, func(c *Container) { c.run = r })
	go b.watchRun(r, 0)
	b.startHealthchecks(c, r)
	return nil
}

// replay folds a journal into a container; it also returns the last start.
func replay(entries []journalEntry) (*Container, journalEntry) {
	var c *Container
	var lastStart journalEntry
	for _, e := range entries {
		if e.Kind == entryCreate && e.Create != nil {
			cr := e.Create
			c = &Container{
				ID: cr.ID, Created: cr.Created, Config: cr.Config, HostConfig: cr.HostConfig,
				NetworkingConfig: cr.NetworkingConfig, Image: cr.Image, FunctionName: cr.FunctionName,
				FunctionARN: cr.FunctionARN, LogGroup: cr.LogGroup, Mounts: cr.Mounts, name: cr.Name, status: stateCreated,
			}
			c.Path, c.Args = processArgs(c.Config, c.Image)
			if c.Config.OpenStdin {
				c.stdin = newStdinPipe()
			}
			continue
		}
		if c == nil {
			continue
		}
		switch e.Kind {
		case entryStart:
			c.status, c.startedAt, c.finishedAt, c.exitCode, c.errMsg = stateRunning, e.Time, time.Time{}, 0, ""
			c.manualStop = false
			if e.ByUser {
				c.restarts = 0
			}
			lastStart = e
		case entryRestarted:
			c.restarts++
		case entryStopped:
			c.manualStop = true
		case entryExit:
			c.status, c.finishedAt, c.errMsg = stateExited, e.Time, e.Error
			if e.ExitCode != nil {
				c.exitCode = *e.ExitCode
			}
			c.exits++
		case entryRename:
			c.name = e.Name
		case entryConnect:
			if c.networks == nil {
				c.networks = map[string]*network.EndpointSettings{}
			}
			c.networks[e.Network] = e.Endpoint
		case entryDisconnect:
			delete(c.networks, e.Network)
		case entryUpdate:
			if e.Memory != 0 {
				c.HostConfig.Memory = e.Memory
			}
			if e.RestartPolicy != nil {
				c.HostConfig.RestartPolicy = *e.RestartPolicy
			}
		case entryLogStream:
			if !contains(c.logStreams, e.LogStream) {
				c.logStreams = append(c.logStreams, e.LogStream)
			}
		}
	}
	return c, lastStart
}

// watchRun follows a run whose agent is not connected, through CloudWatch:
// the agent's exit record gives the exit code; Lambda's REPORT line without
// one means the invocation ended without the agent reporting (a crash or
// Lambda's timeout). It returns when the run ends or its agent connects.
//
// A new run is given grace to connect before CloudWatch is read.
func (b *Backend) watchRun(r *run, grace time.Duration) {
	c := r.container
	lr := b.newLogReader(c.LogGroup)
	var endedAt time.Time
	select {
	case <-r.done:
		return
	case <-time.After(grace):
	}
	for {
		select {
		case <-r.done:
			return
		case <-time.After(time.Second):
		}
		r.mu.Lock()
		connected, reqID := r.session != nil && !r.session.IsClosed(), r.requestID
		r.mu.Unlock()
		if connected {
			continue
		}
		streams := b.store.Snap(c).LogStreams
		if len(streams) == 0 {
			streams = b.findLogStreams(c)
		}
		if _, err := lr.next(context.Background(), streams); err != nil {
			slog.Warn("watching a container's logs", "container", c.ID[:12], "err", err)
			continue
		}
		if exit, ok := lr.exits[reqID]; ok {
			b.finishRun(r, exit.Code, exit.Error, exit.Reason)
			return
		}
		if lr.ended[reqID] {
			if endedAt.IsZero() {
				endedAt = time.Now()
			} else if time.Since(endedAt) > 5*time.Second {
				b.finishRun(r, 137, "the function's invocation ended without its agent reporting an exit code (Lambda timeout or crash)", "")
				return
			}
		}
	}
}

// findLogStreams finds the log streams of the container's function by name
// when no agent told them: Lambda names them "YYYY/MM/DD/<function>[...",
// dated when the environment started.
func (b *Backend) findLogStreams(c *Container) []string {
	var out []string
	start := b.store.Snap(c).StartedAt
	for _, day := range []time.Time{start, start.Add(-24 * time.Hour)} {
		prefix := day.UTC().Format("2006/01/02/") + c.FunctionName + "["
		resp, err := b.aws.Logs.DescribeLogStreams(context.Background(), &cloudwatchlogs.DescribeLogStreamsInput{
			LogGroupName: aws.String(c.LogGroup), LogStreamNamePrefix: aws.String(prefix),
		})
		if err != nil {
			continue
		}
		for _, s := range resp.LogStreams {
			out = append(out, aws.ToString(s.LogStreamName))
		}
	}
	if len(out) > 0 {
		b.store.Update(c, func(c *Container) {
			for _, s := range out {
				if !contains(c.logStreams, s) {
					c.logStreams = append(c.logStreams, s)
				}
			}
		})
	}
	return out
}
