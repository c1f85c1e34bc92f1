package lambda

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/docker/docker/api/types/container"
)

// BenchmarkInvokeOverhead measures, side by side in one run, a warm invoke
// of a no-op handler, a cold start (a new execution environment, then the
// invoke) and a plain `docker run` of the same image on the same engine
// (create, start, wait for exit), the floor a cold start builds on.
func BenchmarkInvokeOverhead(b *testing.B) {
	f := newFixture(b, Config{PendingDelay: time.Millisecond})
	f.create(b, &awslambda.CreateFunctionInput{FunctionName: aws.String("bench")})
	ctx := context.Background()
	noop := &awslambda.InvokeInput{FunctionName: aws.String("bench"), Payload: []byte(`{"noop":true}`)}
	invoke := func(b *testing.B) {
		out, err := f.client.Invoke(ctx, noop)
		if err != nil || out.FunctionError != nil {
			b.Fatalf("invoke: %v %v", err, out)
		}
	}

	b.Run("warm-invoke", func(b *testing.B) {
		invoke(b) // the environment is warm from here on
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			invoke(b)
		}
	})

	b.Run("cold-start-invoke", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			f.retireIdle("bench")
			b.StartTimer()
			invoke(b)
		}
		b.StopTimer()
		f.retireIdle("bench")
	})

	b.Run("docker-run", func(b *testing.B) {
		f.svc.mu.Lock()
		ref := f.svc.functions["bench"].livePullRef
		f.svc.mu.Unlock()
		for i := 0; i < b.N; i++ {
			created, err := dockerClient.ContainerCreate(ctx, &container.Config{Image: ref, Env: []string{"EXIT_AFTER_INIT=1"}}, nil, nil, nil, "")
			if err != nil {
				b.Fatal(err)
			}
			okC, errC := dockerClient.ContainerWait(ctx, created.ID, container.WaitConditionNextExit)
			if err := dockerClient.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
				b.Fatal(err)
			}
			select {
			case r := <-okC:
				if r.StatusCode != 0 {
					b.Fatalf("exit %d", r.StatusCode)
				}
			case err := <-errC:
				b.Fatal(err)
			}
			b.StopTimer()
			if err := dockerClient.ContainerRemove(ctx, created.ID, container.RemoveOptions{Force: true}); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
}

// retireIdle destroys the function's warm environments, so that the next
// invoke is a cold start.
func (f *fixture) retireIdle(fn string) {
	f.svc.mu.Lock()
	idle := f.svc.functions[fn].idle
	f.svc.functions[fn].idle = nil
	for _, e := range idle {
		if e.idleTimer != nil {
			e.idleTimer.Stop()
			e.idleTimer = nil
		}
	}
	f.svc.mu.Unlock()
	destroyAll(context.Background(), idle, "benchmark")
}
