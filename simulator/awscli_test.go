package simulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// awsCLIPath is Debian's AWS CLI v2, called by its path: an unrelated v1
// `aws` may come first on PATH.
const awsCLIPath = "/usr/bin/aws"

// cliRunner runs the AWS CLI against the simulator at url.
type cliRunner struct {
	t   *testing.T
	url string
	env []string
}

func newCLIRunner(t *testing.T, url string) *cliRunner {
	t.Helper()
	if _, err := os.Stat(awsCLIPath); err != nil {
		t.Fatalf("the AWS CLI tests need %s: apt-get install awscli (%v)", awsCLIPath, err)
	}
	home := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "LANG=C.UTF-8",
		"AWS_ACCESS_KEY_ID=AKID", "AWS_SECRET_ACCESS_KEY=SECRET", "AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=",
		// No profile of the user's may point anywhere else.
		"AWS_CONFIG_FILE=" + filepath.Join(home, "config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(home, "credentials"),
	}
	return &cliRunner{t: t, url: url, env: env}
}

// try runs `aws <args> --endpoint-url <url> --output json` and returns its
// stdout, stderr and error.
func (a *cliRunner) try(args ...string) (string, string, error) {
	cmd := exec.Command(awsCLIPath, append(args, "--endpoint-url", a.url, "--output", "json")...)
	cmd.Env = a.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// run runs the CLI, fails the test on error, and decodes its JSON output
// into out unless out is nil.
func (a *cliRunner) run(out any, args ...string) {
	a.t.Helper()
	stdout, stderr, err := a.try(args...)
	if err != nil {
		a.t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(stdout), out); err != nil {
			a.t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stdout)
		}
	}
}

// fails runs the CLI and wants it to fail with AWS's error code and message.
func (a *cliRunner) fails(code, message string, args ...string) {
	a.t.Helper()
	_, stderr, err := a.try(args...)
	want := fmt.Sprintf("An error occurred (%s)", code)
	if err == nil || !strings.Contains(stderr, want) || !strings.Contains(stderr, message) {
		a.t.Fatalf("aws %s: want %s %q, got %v\n%s", strings.Join(args, " "), code, message, err, stderr)
	}
}

func TestAWSCLISTS(t *testing.T) {
	srv := startSimulator(t, "")
	var id struct{ Account, Arn, UserId string }
	newCLIRunner(t, srv.URL()).run(&id, "sts", "get-caller-identity")
	if id.Account != account || id.Arn != "arn:aws:iam::"+account+":root" {
		t.Fatalf("identity %+v", id)
	}
}

func TestAWSCLILogs(t *testing.T) {
	srv := startSimulator(t, "")
	cli := newCLIRunner(t, srv.URL())
	for _, g := range []string{"/cli/a", "/cli/b", "/cli/c"} {
		cli.run(nil, "logs", "create-log-group", "--log-group-name", g, "--tags", "team=x")
	}
	cli.fails("ResourceAlreadyExistsException", "The specified log group already exists", "logs", "create-log-group", "--log-group-name", "/cli/a")
	cli.fails("InvalidParameterException", "retentionInDays", "logs", "put-retention-policy", "--log-group-name", "/cli/a", "--retention-in-days", "2")
	cli.run(nil, "logs", "put-retention-policy", "--log-group-name", "/cli/a", "--retention-in-days", "1")

	// --page-size 1: the CLI follows nextToken through three pages.
	var groups struct {
		LogGroups []struct {
			LogGroupName    string
			RetentionInDays int
			Arn             string // this CLI's model predates logGroupArn
		}
	}
	cli.run(&groups, "logs", "describe-log-groups", "--log-group-name-prefix", "/cli/", "--page-size", "1")
	if len(groups.LogGroups) != 3 || groups.LogGroups[0].RetentionInDays != 1 || groups.LogGroups[2].LogGroupName != "/cli/c" {
		t.Fatalf("groups %+v", groups)
	}
	arn := strings.TrimSuffix(groups.LogGroups[0].Arn, ":*")
	cli.run(nil, "logs", "tag-resource", "--resource-arn", arn, "--tags", "env=dev")
	cli.run(nil, "logs", "untag-resource", "--resource-arn", arn, "--tag-keys", "team")
	var tags struct{ Tags map[string]string }
	cli.run(&tags, "logs", "list-tags-for-resource", "--resource-arn", arn)
	if len(tags.Tags) != 1 || tags.Tags["env"] != "dev" {
		t.Fatalf("tags %+v", tags)
	}
	cli.run(nil, "logs", "delete-retention-policy", "--log-group-name", "/cli/a")

	cli.run(nil, "logs", "create-log-stream", "--log-group-name", "/cli/a", "--log-stream-name", "s1")
	cli.run(nil, "logs", "create-log-stream", "--log-group-name", "/cli/a", "--log-stream-name", "s2")
	now := time.Now().UnixMilli()
	cli.run(nil, "logs", "put-log-events", "--log-group-name", "/cli/a", "--log-stream-name", "s1", "--log-events",
		fmt.Sprintf("timestamp=%d,message=hello from the CLI", now-2), fmt.Sprintf("timestamp=%d,message=ERROR it broke", now-1))
	cli.run(nil, "logs", "put-log-events", "--log-group-name", "/cli/a", "--log-stream-name", "s2", "--log-events",
		fmt.Sprintf("timestamp=%d,message=later on s2", now))
	cli.fails("InvalidParameterException", "chronological order", "logs", "put-log-events", "--log-group-name", "/cli/a", "--log-stream-name", "s1", "--log-events",
		fmt.Sprintf("timestamp=%d,message=b", now), fmt.Sprintf("timestamp=%d,message=a", now-1))

	var events struct {
		Events                              []struct{ Message string }
		NextForwardToken, NextBackwardToken string
	}
	cli.run(&events, "logs", "get-log-events", "--log-group-name", "/cli/a", "--log-stream-name", "s1", "--start-from-head")
	if len(events.Events) != 2 || events.Events[0].Message != "hello from the CLI" || events.NextForwardToken == "" || events.NextBackwardToken == "" {
		t.Fatalf("events %+v", events)
	}
	cli.fails("ResourceNotFoundException", "The specified log stream does not exist.", "logs", "get-log-events", "--log-group-name", "/cli/a", "--log-stream-name", "nope")

	var filtered struct {
		Events []struct{ LogStreamName, Message string }
	}
	cli.run(&filtered, "logs", "filter-log-events", "--log-group-name", "/cli/a", "--filter-pattern", "ERROR")
	if len(filtered.Events) != 1 || filtered.Events[0].Message != "ERROR it broke" || filtered.Events[0].LogStreamName != "s1" {
		t.Fatalf("filtered %+v", filtered)
	}
	var streams struct {
		LogStreams []struct{ LogStreamName string }
	}
	cli.run(&streams, "logs", "describe-log-streams", "--log-group-name", "/cli/a", "--order-by", "LastEventTime", "--descending")
	if len(streams.LogStreams) != 2 || streams.LogStreams[0].LogStreamName != "s2" {
		t.Fatalf("streams %+v", streams)
	}
	// `aws logs tail` is FilterLogEvents and DescribeLogGroups underneath.
	stdout, stderr, err := cli.try("logs", "tail", "/cli/a", "--since", "1h", "--format", "short")
	if err != nil || !strings.Contains(stdout, "hello from the CLI") || !strings.Contains(stdout, "later on s2") {
		t.Fatalf("logs tail: %v\n%s\n%s", err, stdout, stderr)
	}

	cli.run(nil, "logs", "delete-log-stream", "--log-group-name", "/cli/a", "--log-stream-name", "s1")
	cli.run(nil, "logs", "delete-log-group", "--log-group-name", "/cli/a")
	cli.fails("ResourceNotFoundException", "The specified log group does not exist.", "logs", "delete-log-group", "--log-group-name", "/cli/a")
}

// TestAWSCLIECRAndDocker drives ECR with the AWS CLI and its registry with
// the docker CLI: get-login-password | docker login, push, pull.
func TestAWSCLIECRAndDocker(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatalf("the docker CLI is needed: %v", err)
	}
	srv := startSimulator(t, "")
	cli := newCLIRunner(t, srv.URL())
	host := srv.Addr()

	var created struct {
		Repository struct{ RepositoryUri, RepositoryArn string }
	}
	cli.run(&created, "ecr", "create-repository", "--repository-name", "cli/app")
	if created.Repository.RepositoryUri != host+"/cli/app" || created.Repository.RepositoryArn != "arn:aws:ecr:us-east-1:"+account+":repository/cli/app" {
		t.Fatalf("repository %+v", created)
	}
	cli.fails("RepositoryAlreadyExistsException", "The repository with name 'cli/app' already exists in the registry with id '"+account+"'",
		"ecr", "create-repository", "--repository-name", "cli/app")
	cli.fails("RepositoryNotFoundException", "The repository with name 'nope' does not exist in the registry with id '"+account+"'",
		"ecr", "describe-repositories", "--repository-names", "nope")
	var token struct {
		AuthorizationData []struct{ ProxyEndpoint string }
	}
	cli.run(&token, "ecr", "get-authorization-token")
	if len(token.AuthorizationData) != 1 || token.AuthorizationData[0].ProxyEndpoint != "http://"+host {
		t.Fatalf("authorization %+v", token)
	}

	// A local image FROM scratch: nothing can be pulled from the internet.
	image := host + "/cli/app:v1"
	buildScratchImage(t, image)
	docker := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("docker", args...)
		cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	dockerConfig := t.TempDir()
	login := exec.Command("sh", "-c", fmt.Sprintf("%s ecr get-login-password --endpoint-url %s | docker login --username AWS --password-stdin %s", awsCLIPath, srv.URL(), host))
	login.Env = append(cli.env, "DOCKER_CONFIG="+dockerConfig)
	if out, err := login.CombinedOutput(); err != nil || !strings.Contains(string(out), "Login Succeeded") {
		t.Fatalf("get-login-password | docker login: %v\n%s", err, out)
	}
	withLogin := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("docker", append([]string{"--config", dockerConfig}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	// Without the login the registry refuses.
	cmd := exec.Command("docker", "--config", t.TempDir(), "push", image)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "no basic auth credentials") {
		t.Fatalf("push without login: %v\n%s", err, out)
	}
	withLogin("push", image)

	var described struct {
		ImageDetails []struct {
			ImageDigest string
			ImageTags   []string
		}
	}
	cli.run(&described, "ecr", "describe-images", "--repository-name", "cli/app")
	if len(described.ImageDetails) != 1 || len(described.ImageDetails[0].ImageTags) != 1 || described.ImageDetails[0].ImageTags[0] != "v1" {
		t.Fatalf("images %+v", described)
	}
	digest := described.ImageDetails[0].ImageDigest
	var listed struct {
		ImageIds []struct{ ImageDigest, ImageTag string }
	}
	cli.run(&listed, "ecr", "list-images", "--repository-name", "cli/app")
	if len(listed.ImageIds) != 1 || listed.ImageIds[0].ImageDigest != digest {
		t.Fatalf("list-images %+v", listed)
	}
	var got struct {
		Images   []struct{ ImageManifest string }
		Failures []struct{ FailureCode string }
	}
	cli.run(&got, "ecr", "batch-get-image", "--repository-name", "cli/app", "--image-ids", "imageTag=v1", "imageTag=absent")
	if len(got.Images) != 1 || !strings.Contains(got.Images[0].ImageManifest, "layers") || len(got.Failures) != 1 || got.Failures[0].FailureCode != "ImageNotFound" {
		t.Fatalf("batch-get-image %+v", got)
	}

	// The engine pulls it back, by tag and by the digest ECR reports.
	docker("rmi", image)
	withLogin("pull", image)
	withLogin("pull", host+"/cli/app@"+digest)
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", image, host+"/cli/app@"+digest).Run() })
	if ids := docker("image", "inspect", "--format", "{{index .RepoDigests 0}}", image); !strings.Contains(ids, digest) {
		t.Fatalf("pulled image's digest: %s, ECR says %s", ids, digest)
	}

	var rule struct{ EcrRepositoryPrefix, UpstreamRegistryUrl, RegistryId string }
	cli.run(&rule, "ecr", "create-pull-through-cache-rule", "--ecr-repository-prefix", "docker-hub", "--upstream-registry-url", "registry-1.docker.io")
	if rule.UpstreamRegistryUrl != "registry-1.docker.io" || rule.RegistryId != account {
		t.Fatalf("rule %+v", rule)
	}
	var rules struct {
		PullThroughCacheRules []struct{ EcrRepositoryPrefix string }
	}
	cli.run(&rules, "ecr", "describe-pull-through-cache-rules")
	if len(rules.PullThroughCacheRules) != 1 {
		t.Fatalf("rules %+v", rules)
	}
	cli.run(nil, "ecr", "delete-pull-through-cache-rule", "--ecr-repository-prefix", "docker-hub")
	cli.fails("PullThroughCacheRuleNotFoundException", "docker-hub", "ecr", "delete-pull-through-cache-rule", "--ecr-repository-prefix", "docker-hub")

	cli.fails("RepositoryNotEmptyException", "cannot be deleted because it still contains images", "ecr", "delete-repository", "--repository-name", "cli/app")
	var deleted struct {
		ImageIds []struct{ ImageDigest string }
	}
	cli.run(&deleted, "ecr", "batch-delete-image", "--repository-name", "cli/app", "--image-ids", "imageDigest="+digest)
	if len(deleted.ImageIds) != 1 {
		t.Fatalf("batch-delete-image %+v", deleted)
	}
	cli.run(nil, "ecr", "delete-repository", "--repository-name", "cli/app")
}

// buildScratchImage builds tag FROM scratch holding the static busybox.
func buildScratchImage(t *testing.T, tag string) {
	t.Helper()
	bin, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("a static /bin/busybox is needed to build a test image: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "busybox"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	dockerfile := "FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT [\"/bin/busybox\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("docker", "build", "-q", "-t", tag, dir).CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", tag).Run() })
}

// TestAWSCLIEFS drives EFS with the AWS CLI: file systems and access points,
// created, listed page by page, refused and deleted as AWS does.
func TestAWSCLIEFS(t *testing.T) {
	srv := startSimulator(t, "")
	cli := newCLIRunner(t, srv.URL())

	var fs struct{ FileSystemId, FileSystemArn, LifeCycleState, Name string }
	cli.run(&fs, "efs", "create-file-system", "--creation-token", "cli-volumes", "--tags", "Key=Name,Value=cli")
	if !strings.HasPrefix(fs.FileSystemId, "fs-") || len(fs.FileSystemId) != 20 || fs.Name != "cli" ||
		fs.FileSystemArn != "arn:aws:elasticfilesystem:us-east-1:"+account+":file-system/"+fs.FileSystemId {
		t.Fatalf("file system %+v", fs)
	}
	cli.fails("FileSystemAlreadyExists", fs.FileSystemId, "efs", "create-file-system", "--creation-token", "cli-volumes")
	cli.run(nil, "efs", "create-file-system", "--creation-token", "cli-other")

	// --page-size 1: the CLI follows NextMarker through both pages.
	var listed struct {
		FileSystems []struct{ FileSystemId, LifeCycleState string }
	}
	cli.run(&listed, "efs", "describe-file-systems", "--page-size", "1")
	if len(listed.FileSystems) != 2 || listed.FileSystems[0].FileSystemId != fs.FileSystemId || listed.FileSystems[0].LifeCycleState != "available" {
		t.Fatalf("describe-file-systems %+v", listed)
	}

	var ap struct {
		AccessPointId, AccessPointArn string
		PosixUser                     struct{ Uid, Gid int64 }
		RootDirectory                 struct{ Path string }
	}
	cli.run(&ap, "efs", "create-access-point", "--file-system-id", fs.FileSystemId, "--posix-user", "Uid=1000,Gid=1000",
		"--root-directory", "Path=/vols,CreationInfo={OwnerUid=1000,OwnerGid=1000,Permissions=755}")
	if !strings.HasPrefix(ap.AccessPointId, "fsap-") || len(ap.AccessPointId) != 22 || ap.PosixUser.Uid != 1000 || ap.RootDirectory.Path != "/vols" ||
		ap.AccessPointArn != "arn:aws:elasticfilesystem:us-east-1:"+account+":access-point/"+ap.AccessPointId {
		t.Fatalf("access point %+v", ap)
	}
	var aps struct {
		AccessPoints []struct{ AccessPointId, LifeCycleState string }
	}
	cli.run(&aps, "efs", "describe-access-points", "--file-system-id", fs.FileSystemId)
	if len(aps.AccessPoints) != 1 || aps.AccessPoints[0].AccessPointId != ap.AccessPointId || aps.AccessPoints[0].LifeCycleState != "available" {
		t.Fatalf("describe-access-points %+v", aps)
	}
	cli.fails("ValidationException", "at 'rootDirectory.path' failed to satisfy constraint",
		"efs", "create-access-point", "--file-system-id", fs.FileSystemId, "--root-directory", "Path=//x")
	cli.fails("FileSystemInUse", fs.FileSystemId, "efs", "delete-file-system", "--file-system-id", fs.FileSystemId)
	cli.run(nil, "efs", "delete-access-point", "--access-point-id", ap.AccessPointId)
	cli.fails("AccessPointNotFound", "Access point '"+ap.AccessPointId+"' does not exist.", "efs", "describe-access-points", "--access-point-id", ap.AccessPointId)
	cli.run(nil, "efs", "delete-file-system", "--file-system-id", fs.FileSystemId)
	cli.fails("FileSystemNotFound", "File system '"+fs.FileSystemId+"' does not exist.", "efs", "describe-file-systems", "--file-system-id", fs.FileSystemId)
}
