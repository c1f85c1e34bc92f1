package simulator_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	lambdasvc "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	efssdk "github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/sockerless-lambda/sockerless/simulator"
)

const account = "123456789012"

// startSimulator runs the whole simulator in this process on a free port.
// dataDir "" is the default: a temporary directory removed at Close.
func startSimulator(t *testing.T, dataDir string) *simulator.Server {
	t.Helper()
	srv, err := simulator.New(simulator.Config{
		Addr: "127.0.0.1:0", Region: "us-east-1", AccountID: account, DataDir: dataDir,
		PendingDelay: 10 * time.Millisecond, IdleTimeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	return srv
}

func awsConfig(url string) aws.Config {
	return aws.Config{
		Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	}
}

// registryAuth logs in the way `aws ecr get-login-password` does.
func registryAuth(t *testing.T, c *ecr.Client) authn.Authenticator {
	t.Helper()
	out, err := c.GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(out.AuthorizationData[0].AuthorizationToken))
	if err != nil {
		t.Fatal(err)
	}
	user, pass, _ := strings.Cut(string(raw), ":")
	return &authn.Basic{Username: user, Password: pass}
}

func TestSTSThroughTheSimulator(t *testing.T) {
	srv := startSimulator(t, "")
	out, err := sts.NewFromConfig(awsConfig(srv.URL())).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	// The same account is in every ARN the simulator hands out.
	repo, err := ecr.NewFromConfig(awsConfig(srv.URL())).CreateRepository(context.Background(), &ecr.CreateRepositoryInput{RepositoryName: aws.String("acct")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.Account) != account || !strings.Contains(aws.ToString(repo.Repository.RepositoryArn), ":"+account+":") {
		t.Fatalf("account %s, repository %s", aws.ToString(out.Account), aws.ToString(repo.Repository.RepositoryArn))
	}
}

// TestRestartKeepsState stops a simulator with a data directory and starts
// another on it: logs, repositories, images, pull-through rules, the
// registry password, functions, file systems and access points are all
// still there.
func TestRestartKeepsState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	first := startSimulator(t, dir)
	logs := cwl.NewFromConfig(awsConfig(first.URL()))
	reg := ecr.NewFromConfig(awsConfig(first.URL()))

	g, s := aws.String("/restart/group"), aws.String("stream")
	if _, err := logs.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: g, Tags: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := logs.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: g, LogStreamName: s}); err != nil {
		t.Fatal(err)
	}
	if _, err := logs.PutRetentionPolicy(ctx, &cwl.PutRetentionPolicyInput{LogGroupName: g, RetentionInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixMilli()
	if _, err := logs.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s, LogEvents: []cwltypes.InputLogEvent{
		{Timestamp: aws.Int64(now), Message: aws.String("before restart 1")},
		{Timestamp: aws.Int64(now + 1), Message: aws.String("before restart 2")},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String("team/app")}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.CreatePullThroughCacheRule(ctx, &ecr.CreatePullThroughCacheRuleInput{
		EcrRepositoryPrefix: aws.String("docker-hub"), UpstreamRegistryUrl: aws.String("registry-1.docker.io")}); err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	pushed, _ := img.Digest()
	ref, _ := name.ParseReference(first.Addr() + "/team/app:v1")
	auth := registryAuth(t, reg)
	if err := remote.Write(ref, img, remote.WithAuth(auth)); err != nil {
		t.Fatal(err)
	}
	files := efssdk.NewFromConfig(awsConfig(first.URL()))
	fsys, err := files.CreateFileSystem(ctx, &efssdk.CreateFileSystemInput{CreationToken: aws.String("kept")})
	if err != nil {
		t.Fatal(err)
	}
	ap, err := files.CreateAccessPoint(ctx, &efssdk.CreateAccessPointInput{FileSystemId: fsys.FileSystemId})
	if err != nil {
		t.Fatal(err)
	}
	fns := lambdasvc.NewFromConfig(awsConfig(first.URL()))
	if _, err := fns.CreateFunction(ctx, &lambdasvc.CreateFunctionInput{
		FunctionName: aws.String("kept"), Role: aws.String("arn:aws:iam::123456789012:role/r"),
		PackageType: lambdatypes.PackageTypeImage, Code: &lambdatypes.FunctionCode{ImageUri: aws.String(first.Addr() + "/team/app:v1")},
		MemorySize: aws.Int32(256), Tags: map[string]string{"kept": "yes"},
		FileSystemConfigs: []lambdatypes.FileSystemConfig{{Arn: ap.AccessPointArn, LocalMountPath: aws.String("/mnt/kept")}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}

	second := startSimulator(t, dir)
	logs = cwl.NewFromConfig(awsConfig(second.URL()))
	reg = ecr.NewFromConfig(awsConfig(second.URL()))
	fns = lambdasvc.NewFromConfig(awsConfig(second.URL()))

	fn, err := fns.GetFunction(ctx, &lambdasvc.GetFunctionInput{FunctionName: aws.String("kept")})
	if err != nil || aws.ToInt32(fn.Configuration.MemorySize) != 256 || fn.Tags["kept"] != "yes" ||
		len(fn.Configuration.FileSystemConfigs) != 1 || aws.ToString(fn.Configuration.FileSystemConfigs[0].Arn) != aws.ToString(ap.AccessPointArn) {
		t.Fatalf("function after restart: %v %+v", err, fn)
	}
	files = efssdk.NewFromConfig(awsConfig(second.URL()))
	aps, err := files.DescribeAccessPoints(ctx, &efssdk.DescribeAccessPointsInput{FileSystemId: fsys.FileSystemId})
	if err != nil || len(aps.AccessPoints) != 1 || aws.ToString(aps.AccessPoints[0].AccessPointId) != aws.ToString(ap.AccessPointId) {
		t.Fatalf("access points after restart: %v %+v", err, aps)
	}
	if info, err := os.Stat(filepath.Join(dir, "efs", aws.ToString(fsys.FileSystemId))); err != nil || !info.IsDir() {
		t.Fatalf("the file system's directory after restart: %v", err)
	}
	if _, err := fns.DeleteFunction(ctx, &lambdasvc.DeleteFunctionInput{FunctionName: aws.String("kept")}); err != nil {
		t.Fatal(err)
	}

	ev, err := logs.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: g, LogStreamName: s, StartFromHead: aws.Bool(true)})
	if err != nil || len(ev.Events) != 2 || aws.ToString(ev.Events[1].Message) != "before restart 2" {
		t.Fatalf("events after restart: %v %+v", err, ev)
	}
	dg, err := logs.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{LogGroupNamePrefix: g})
	if err != nil || len(dg.LogGroups) != 1 || aws.ToInt32(dg.LogGroups[0].RetentionInDays) != 7 {
		t.Fatalf("group after restart: %v %+v", err, dg)
	}
	tags, err := logs.ListTagsForResource(ctx, &cwl.ListTagsForResourceInput{ResourceArn: dg.LogGroups[0].LogGroupArn})
	if err != nil || tags.Tags["k"] != "v" {
		t.Fatalf("tags after restart: %v %+v", err, tags)
	}
	di, err := reg.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: aws.String("team/app")})
	if err != nil || len(di.ImageDetails) != 1 || aws.ToString(di.ImageDetails[0].ImageDigest) != pushed.String() {
		t.Fatalf("images after restart: %v %+v", err, di)
	}
	rules, err := reg.DescribePullThroughCacheRules(ctx, &ecr.DescribePullThroughCacheRulesInput{})
	if err != nil || len(rules.PullThroughCacheRules) != 1 {
		t.Fatalf("rules after restart: %v %+v", err, rules)
	}
	// The old password still works (docker login survives), and the image
	// is served whole from the new address.
	ref, _ = name.ParseReference(second.Addr() + "/team/app:v1")
	got, err := remote.Image(ref, remote.WithAuth(auth))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := got.Digest(); d != pushed {
		t.Fatalf("digest after restart %s, pushed %s", d, pushed)
	}
	layers, _ := got.Layers()
	for _, l := range layers {
		if _, err := l.Compressed(); err != nil {
			t.Fatalf("layer after restart: %v", err)
		}
	}
}

// simProcess is the simulator binary running as its own process, so that
// its memory is its own.
type simProcess struct {
	cmd *exec.Cmd
	url string

	mu          sync.Mutex
	peakAnonKiB int64 // the highest RssAnon sampled
	stop        chan struct{}
	sampled     sync.WaitGroup
}

var buildOnce struct {
	sync.Once
	path string
	err  error
}

// simulatorBinary builds cmd/sockerless-simulator-aws once per test binary.
func simulatorBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sim-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "sockerless-simulator-aws")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, "./cmd/sockerless-simulator-aws").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if buildOnce.err != nil {
		tb.Fatal(buildOnce.err)
	}
	return buildOnce.path
}

var listeningRE = regexp.MustCompile(`msg="simulator listening" url=(\S+)`)

func startSimulatorProcess(tb testing.TB, dataDir string) *simProcess {
	tb.Helper()
	cmd := exec.Command(simulatorBinary(tb))
	cmd.Env = append(os.Environ(), "SIM_ADDR=127.0.0.1:0", "SIM_DATA_DIR="+dataDir, "SIM_ACCOUNT_ID="+account, "SIM_REGION=us-east-1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &simProcess{cmd: cmd, stop: make(chan struct{})}
	tb.Cleanup(p.kill)
	lines := bufio.NewScanner(stderr)
	// A simulator that never says where it listens is killed, so that
	// Scan returns rather than hang the test.
	guard := time.AfterFunc(2*time.Minute, func() { _ = cmd.Process.Kill() })
	var seen []string
	for lines.Scan() {
		if m := listeningRE.FindStringSubmatch(lines.Text()); m != nil {
			p.url = m[1]
			break
		}
		seen = append(seen, lines.Text())
	}
	guard.Stop()
	if p.url == "" {
		tb.Fatalf("the simulator exited before listening: %v\n%s", lines.Err(), strings.Join(seen, "\n"))
	}
	go func() { // keep draining, or the simulator blocks on a full pipe
		for lines.Scan() {
		}
	}()
	p.sampled.Go(p.sample)
	return p
}

// sample records the peak of RssAnon (heap and stacks, without the store's
// memory-mapped file pages, which VmHWM counts but the kernel can drop).
func (p *simProcess) sample() {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if v, err := p.status("RssAnon"); err == nil {
			p.mu.Lock()
			p.peakAnonKiB = max(p.peakAnonKiB, v)
			p.mu.Unlock()
		}
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
	}
}

// status reads a "Key: N kB" line of /proc/<pid>/status.
func (p *simProcess) status(key string) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s not in /proc/%d/status", key, p.cmd.Process.Pid)
}

// memory returns VmHWM and the sampled peak RssAnon, in MiB.
func (p *simProcess) memory(tb testing.TB) (hwm, anon float64) {
	tb.Helper()
	kib, err := p.status("VmHWM")
	if err != nil {
		tb.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return float64(kib) / 1024, float64(p.peakAnonKiB) / 1024
}

func (p *simProcess) kill() {
	select {
	case <-p.stop:
		return
	default:
	}
	close(p.stop)
	p.sampled.Wait()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
}

// volumeResult is what writing and reading back a stream measured.
type volumeResult struct {
	write, read time.Duration
	hwmMiB      float64 // VmHWM: peak resident set, the store's mapped pages included
	anonMiB     float64 // peak RssAnon as sampled
}

// writeAndReadBack puts n events of size bytes into one stream in batches
// of 10,000 (or 1 MB), then reads them all back from the head with
// GetLogEvents and its forward tokens, checking every event's order.
func writeAndReadBack(tb testing.TB, n, size int) volumeResult {
	tb.Helper()
	ctx := context.Background()
	p := startSimulatorProcess(tb, tb.TempDir())
	c := cwl.NewFromConfig(awsConfig(p.url))
	g, s := aws.String("/volume"), aws.String("stream")
	if _, err := c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: g}); err != nil {
		tb.Fatal(err)
	}
	if _, err := c.CreateLogStream(ctx, &cwl.CreateLogStreamInput{LogGroupName: g, LogStreamName: s}); err != nil {
		tb.Fatal(err)
	}
	pad := strings.Repeat("x", max(size-14, 0))
	msg := func(i int) string { return fmt.Sprintf("event %07d %s", i, pad) }
	perBatch := min(10000, (1<<20)/(size+26))
	start := time.Now().Add(-time.Hour).UnixMilli()

	var res volumeResult
	t0 := time.Now()
	batch := make([]cwltypes.InputLogEvent, 0, perBatch)
	for i := 0; i < n; {
		batch = batch[:0]
		for ; i < n && len(batch) < perBatch; i++ {
			batch = append(batch, cwltypes.InputLogEvent{Timestamp: aws.Int64(start + int64(i/100)), Message: aws.String(msg(i))})
		}
		if _, err := c.PutLogEvents(ctx, &cwl.PutLogEventsInput{LogGroupName: g, LogStreamName: s, LogEvents: batch}); err != nil {
			tb.Fatal(err)
		}
	}
	res.write = time.Since(t0)

	t0 = time.Now()
	next := 0
	var token *string
	for {
		page, err := c.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: g, LogStreamName: s, StartFromHead: aws.Bool(true), NextToken: token})
		if err != nil {
			tb.Fatal(err)
		}
		for _, e := range page.Events {
			if m := aws.ToString(e.Message); next >= n || m != msg(next) {
				tb.Fatalf("event %d reads %.20q", next, m)
			}
			next++
		}
		if token != nil && aws.ToString(page.NextForwardToken) == *token {
			break // AWS's end of stream: the same token back
		}
		token = page.NextForwardToken
	}
	res.read = time.Since(t0)
	if next != n {
		tb.Fatalf("read back %d of %d events", next, n)
	}
	res.hwmMiB, res.anonMiB = p.memory(tb)
	return res
}

// TestMillionLogEvents writes a million events (100 MB) into one stream and
// reads them all back in order, paging with the forward tokens: the
// simulator's heap stays far below the stream's size.
func TestMillionLogEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a million log events")
	}
	const n, size = 1000000, 100
	r := writeAndReadBack(t, n, size)
	t.Logf("%d events of %d bytes: write %v, read %v, VmHWM %.0f MiB, peak RssAnon %.0f MiB", n, size, r.write, r.read, r.hwmMiB, r.anonMiB)
	// A stream held in the heap would need well over 100 MiB of it.
	if r.anonMiB > 80 {
		t.Fatalf("peak RssAnon %.0f MiB while writing and reading a 100 MB stream: events are held in memory", r.anonMiB)
	}
}

// BenchmarkMillionLogEvents is TestMillionLogEvents with its numbers
// reported, for docs/benchmarks.md.
func BenchmarkMillionLogEvents(b *testing.B) {
	const n, size = 1000000, 100
	for b.Loop() {
		r := writeAndReadBack(b, n, size)
		b.ReportMetric(r.write.Seconds(), "write-s")
		b.ReportMetric(r.read.Seconds(), "read-s")
		b.ReportMetric(r.hwmMiB, "VmHWM-MiB")
		b.ReportMetric(r.anonMiB, "peak-RssAnon-MiB")
	}
}
