package efs

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	efssdk "github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/efs/types"
	"github.com/aws/smithy-go"
)

const acct = "123456789012"

type env struct {
	svc *Service
	c   *efssdk.Client
	url string
}

// newEnv serves a Service on dataDir and dir the way simulator/server.go
// mounts it, behind the unmodified SDK client.
func newEnv(t *testing.T, dataDir, dir string) *env {
	t.Helper()
	svc, err := New(Config{Region: "us-east-1", AccountID: acct, DataDir: dataDir, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c := efssdk.New(efssdk.Options{
		BaseEndpoint: aws.String(srv.URL), Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})
	return &env{svc: svc, c: c, url: srv.URL}
}

// apiErr wants err to be AWS's error code with HTTP status and a message
// holding msg.
func apiErr(t *testing.T, err error, code string, status int, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), msg) {
		t.Fatalf("want %s %q, got %v", code, msg, err)
	}
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != status {
		t.Fatalf("want HTTP %d for %s, got %v", status, code, err)
	}
}

var (
	fsIDRE = regexp.MustCompile(`^fs-[0-9a-f]{17}$`)
	apIDRE = regexp.MustCompile(`^fsap-[0-9a-f]{17}$`)
)

func TestFileSystems(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, t.TempDir(), t.TempDir())

	created, err := e.c.CreateFileSystem(ctx, &efssdk.CreateFileSystemInput{
		CreationToken: aws.String("vols"), Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("volumes")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(created.FileSystemId)
	if !fsIDRE.MatchString(id) || aws.ToString(created.FileSystemArn) != "arn:aws:elasticfilesystem:us-east-1:"+acct+":file-system/"+id ||
		created.LifeCycleState != types.LifeCycleStateCreating || aws.ToString(created.Name) != "volumes" ||
		created.PerformanceMode != types.PerformanceModeGeneralPurpose || created.ThroughputMode != types.ThroughputModeBursting ||
		aws.ToString(created.OwnerId) != acct || created.CreationTime == nil || created.SizeInBytes == nil {
		t.Fatalf("created %+v", created)
	}
	if info, err := os.Stat(filepath.Join(e.svc.cfg.Dir, id)); err != nil || !info.IsDir() {
		t.Fatalf("the file system's directory: %v", err)
	}

	// CreationToken makes creation idempotent: a retry learns the ID from the error.
	_, err = e.c.CreateFileSystem(ctx, &efssdk.CreateFileSystemInput{CreationToken: aws.String("vols")})
	apiErr(t, err, "FileSystemAlreadyExists", 409, id)
	var exists *types.FileSystemAlreadyExists
	if !errors.As(err, &exists) || aws.ToString(exists.FileSystemId) != id || aws.ToString(exists.ErrorCode_) != "FileSystemAlreadyExists" {
		t.Fatalf("FileSystemAlreadyExists members: %+v", exists)
	}

	got, err := e.c.DescribeFileSystems(ctx, &efssdk.DescribeFileSystemsInput{FileSystemId: aws.String(id)})
	if err != nil || len(got.FileSystems) != 1 || got.FileSystems[0].LifeCycleState != types.LifeCycleStateAvailable || len(got.FileSystems[0].Tags) != 1 {
		t.Fatalf("describe by id: %v %+v", err, got)
	}
	byARN, err := e.c.DescribeFileSystems(ctx, &efssdk.DescribeFileSystemsInput{FileSystemId: created.FileSystemArn})
	if err != nil || len(byARN.FileSystems) != 1 {
		t.Fatalf("describe by ARN: %v %+v", err, byARN)
	}
	byToken, err := e.c.DescribeFileSystems(ctx, &efssdk.DescribeFileSystemsInput{CreationToken: aws.String("vols")})
	if err != nil || len(byToken.FileSystems) != 1 || aws.ToString(byToken.FileSystems[0].FileSystemId) != id {
		t.Fatalf("describe by token: %v %+v", err, byToken)
	}
	none, err := e.c.DescribeFileSystems(ctx, &efssdk.DescribeFileSystemsInput{CreationToken: aws.String("nope")})
	if err != nil || len(none.FileSystems) != 0 {
		t.Fatalf("describe by unknown token: %v %+v", err, none)
	}

	// Paging: four more, two per page, in creation order.
	want := []string{id}
	for range 4 {
		out, err := e.c.CreateFileSystem(ctx, &efssdk.CreateFileSystemInput{}) // the SDK makes up a token
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, aws.ToString(out.FileSystemId))
	}
	var seen []string
	pages := 0
	for p := efssdk.NewDescribeFileSystemsPaginator(e.c, &efssdk.DescribeFileSystemsInput{MaxItems: aws.Int32(2)}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, f := range page.FileSystems {
			seen = append(seen, aws.ToString(f.FileSystemId))
		}
	}
	if pages != 3 || strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("%d pages: %v, want %v", pages, seen, want)
	}

	// Errors, as AWS words and types them.
	_, err = e.c.DescribeFileSystems(ctx, &efssdk.DescribeFileSystemsInput{FileSystemId: aws.String("fs-0123456789abcdef0")})
	apiErr(t, err, "FileSystemNotFound", 404, "File system 'fs-0123456789abcdef0' does not exist.")
	var nf *types.FileSystemNotFound
	if !errors.As(err, &nf) {
		t.Fatalf("not a *types.FileSystemNotFound: %T", err)
	}
	_, err = e.c.DescribeFileSystems(ctx, &efssdk.DescribeFileSystemsInput{FileSystemId: aws.String("fs-xyz")})
	apiErr(t, err, "ValidationException", 400, "Value 'fs-xyz' at 'fileSystemId' failed to satisfy constraint")
	_, err = e.c.DescribeFileSystems(ctx, &efssdk.DescribeFileSystemsInput{FileSystemId: aws.String(id), CreationToken: aws.String("vols")})
	apiErr(t, err, "BadRequest", 400, "both a file system ID and a creation token")
	_, err = e.c.CreateFileSystem(ctx, &efssdk.CreateFileSystemInput{CreationToken: aws.String("x"), PerformanceMode: "fast"})
	apiErr(t, err, "ValidationException", 400, "Value 'fast' at 'performanceMode' failed to satisfy constraint: Member must satisfy enum value set: [generalPurpose, maxIO]")
	_, err = e.c.CreateFileSystem(ctx, &efssdk.CreateFileSystemInput{CreationToken: aws.String("x"), ThroughputMode: types.ThroughputModeProvisioned})
	apiErr(t, err, "BadRequest", 400, "ProvisionedThroughputInMibps is required")
	var br *types.BadRequest
	if !errors.As(err, &br) || aws.ToString(br.ErrorCode_) != "BadRequest" {
		t.Fatalf("BadRequest members: %+v", br)
	}
	_, err = e.c.CreateFileSystem(ctx, &efssdk.CreateFileSystemInput{CreationToken: aws.String("x"), Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("v")}}})
	apiErr(t, err, "ValidationException", 400, "at 'tags.1.member.key'")

	enc, err := e.c.CreateFileSystem(ctx, &efssdk.CreateFileSystemInput{CreationToken: aws.String("enc"), Encrypted: aws.Bool(true),
		ThroughputMode: types.ThroughputModeProvisioned, ProvisionedThroughputInMibps: aws.Float64(64)})
	if err != nil || !aws.ToBool(enc.Encrypted) || aws.ToString(enc.KmsKeyId) == "" || aws.ToFloat64(enc.ProvisionedThroughputInMibps) != 64 {
		t.Fatalf("encrypted, provisioned: %v %+v", err, enc)
	}

	if _, err := e.c.DeleteFileSystem(ctx, &efssdk.DeleteFileSystemInput{FileSystemId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.svc.cfg.Dir, id)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the deleted file system's directory is still there: %v", err)
	}
	_, err = e.c.DeleteFileSystem(ctx, &efssdk.DeleteFileSystemInput{FileSystemId: aws.String(id)})
	apiErr(t, err, "FileSystemNotFound", 404, id)
}

func TestAccessPoints(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, t.TempDir(), t.TempDir())
	f, err := e.c.CreateFileSystem(ctx, &efssdk.CreateFileSystemInput{CreationToken: aws.String("fs")})
	if err != nil {
		t.Fatal(err)
	}
	fsID := aws.ToString(f.FileSystemId)
	in := &efssdk.CreateAccessPointInput{
		ClientToken: aws.String("vol-token"), FileSystemId: aws.String(fsID),
		PosixUser: &types.PosixUser{Uid: aws.Int64(1001), Gid: aws.Int64(1002), SecondaryGids: []int64{5}},
		RootDirectory: &types.RootDirectory{Path: aws.String("/sockerless"), CreationInfo: &types.CreationInfo{
			OwnerUid: aws.Int64(1001), OwnerGid: aws.Int64(1002), Permissions: aws.String("755"),
		}},
		Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("docker-volumes")}},
	}
	ap, err := e.c.CreateAccessPoint(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	apID := aws.ToString(ap.AccessPointId)
	if !apIDRE.MatchString(apID) || aws.ToString(ap.AccessPointArn) != "arn:aws:elasticfilesystem:us-east-1:"+acct+":access-point/"+apID ||
		aws.ToString(ap.FileSystemId) != fsID || aws.ToString(ap.Name) != "docker-volumes" || aws.ToString(ap.OwnerId) != acct ||
		aws.ToInt64(ap.PosixUser.Uid) != 1001 || aws.ToString(ap.RootDirectory.Path) != "/sockerless" ||
		aws.ToString(ap.RootDirectory.CreationInfo.Permissions) != "755" || aws.ToString(ap.ClientToken) != "vol-token" {
		t.Fatalf("created %+v", ap)
	}

	// The same ClientToken and parameters is a retry: the same access point.
	again, err := e.c.CreateAccessPoint(ctx, in)
	if err != nil || aws.ToString(again.AccessPointId) != apID {
		t.Fatalf("retry: %v %+v", err, again)
	}
	other := *in
	other.RootDirectory = &types.RootDirectory{Path: aws.String("/elsewhere")}
	_, err = e.c.CreateAccessPoint(ctx, &other)
	apiErr(t, err, "AccessPointAlreadyExists", 409, apID)
	var dup *types.AccessPointAlreadyExists
	if !errors.As(err, &dup) || aws.ToString(dup.AccessPointId) != apID {
		t.Fatalf("AccessPointAlreadyExists members: %+v", dup)
	}

	// No root directory is the file system's root.
	rootAP, err := e.c.CreateAccessPoint(ctx, &efssdk.CreateAccessPointInput{FileSystemId: f.FileSystemArn})
	if err != nil || aws.ToString(rootAP.RootDirectory.Path) != "/" || rootAP.PosixUser != nil {
		t.Fatalf("root access point: %v %+v", err, rootAP)
	}
	for range 3 {
		if _, err := e.c.CreateAccessPoint(ctx, &efssdk.CreateAccessPointInput{FileSystemId: aws.String(fsID)}); err != nil {
			t.Fatal(err)
		}
	}
	var all []string
	pages := 0
	for p := efssdk.NewDescribeAccessPointsPaginator(e.c, &efssdk.DescribeAccessPointsInput{FileSystemId: aws.String(fsID), MaxResults: aws.Int32(2)}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, a := range page.AccessPoints {
			if a.LifeCycleState != types.LifeCycleStateAvailable {
				t.Fatalf("access point %s is %s", aws.ToString(a.AccessPointId), a.LifeCycleState)
			}
			all = append(all, aws.ToString(a.AccessPointId))
		}
	}
	if pages != 3 || len(all) != 5 || all[0] != apID {
		t.Fatalf("%d pages: %v", pages, all)
	}
	one, err := e.c.DescribeAccessPoints(ctx, &efssdk.DescribeAccessPointsInput{AccessPointId: ap.AccessPointArn})
	if err != nil || len(one.AccessPoints) != 1 || aws.ToString(one.AccessPoints[0].AccessPointId) != apID || one.NextToken != nil {
		t.Fatalf("describe by ARN: %v %+v", err, one)
	}
	everything, err := e.c.DescribeAccessPoints(ctx, &efssdk.DescribeAccessPointsInput{})
	if err != nil || len(everything.AccessPoints) != 5 {
		t.Fatalf("describe all: %v %+v", err, everything)
	}

	// Errors.
	_, err = e.c.DescribeAccessPoints(ctx, &efssdk.DescribeAccessPointsInput{AccessPointId: aws.String("fsap-0123456789abcdef0")})
	apiErr(t, err, "AccessPointNotFound", 404, "fsap-0123456789abcdef0")
	_, err = e.c.DescribeAccessPoints(ctx, &efssdk.DescribeAccessPointsInput{FileSystemId: aws.String("fs-0123456789abcdef0")})
	apiErr(t, err, "FileSystemNotFound", 404, "fs-0123456789abcdef0")
	_, err = e.c.CreateAccessPoint(ctx, &efssdk.CreateAccessPointInput{FileSystemId: aws.String("fs-0123456789abcdef0")})
	apiErr(t, err, "FileSystemNotFound", 404, "fs-0123456789abcdef0")
	for _, bad := range []string{"//x", "/a/", "/.hidden", "/a/b/c/d/e", "relative", "/a;b"} {
		_, err = e.c.CreateAccessPoint(ctx, &efssdk.CreateAccessPointInput{FileSystemId: aws.String(fsID), RootDirectory: &types.RootDirectory{Path: aws.String(bad)}})
		apiErr(t, err, "ValidationException", 400, "Value '"+bad+"' at 'rootDirectory.path' failed to satisfy constraint: Member must satisfy regular expression pattern")
	}
	_, err = e.c.CreateAccessPoint(ctx, &efssdk.CreateAccessPointInput{FileSystemId: aws.String(fsID), RootDirectory: &types.RootDirectory{
		Path: aws.String("/x"), CreationInfo: &types.CreationInfo{OwnerUid: aws.Int64(1), OwnerGid: aws.Int64(1), Permissions: aws.String("789")}}})
	apiErr(t, err, "ValidationException", 400, "'rootDirectory.creationInfo.permissions'")
	_, err = e.c.CreateAccessPoint(ctx, &efssdk.CreateAccessPointInput{FileSystemId: aws.String(fsID), PosixUser: &types.PosixUser{Uid: aws.Int64(-1), Gid: aws.Int64(0)}})
	apiErr(t, err, "ValidationException", 400, "Value '-1' at 'posixUser.uid' failed to satisfy constraint: Member must have value greater than or equal to 0")

	// A file system with access points cannot be deleted.
	_, err = e.c.DeleteFileSystem(ctx, &efssdk.DeleteFileSystemInput{FileSystemId: aws.String(fsID)})
	apiErr(t, err, "FileSystemInUse", 409, "access point")
	for _, id := range all {
		if _, err := e.c.DeleteAccessPoint(ctx, &efssdk.DeleteAccessPointInput{AccessPointId: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = e.c.DeleteAccessPoint(ctx, &efssdk.DeleteAccessPointInput{AccessPointId: aws.String(apID)})
	apiErr(t, err, "AccessPointNotFound", 404, apID)
	if _, err := e.c.DeleteFileSystem(ctx, &efssdk.DeleteFileSystemInput{FileSystemId: aws.String(fsID)}); err != nil {
		t.Fatal(err)
	}
}

// TestErrorWireForm checks the error as the wire carries it: the code in
// x-amzn-ErrorType and in the body's ErrorCode, beside Message.
func TestErrorWireForm(t *testing.T) {
	e := newEnv(t, t.TempDir(), t.TempDir())
	resp, err := http.Get(e.url + "/2015-02-01/file-systems?FileSystemId=fs-0123456789abcdef0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 404 || resp.Header.Get("x-amzn-ErrorType") != "FileSystemNotFound" || resp.Header.Get("x-amzn-RequestId") == "" ||
		body["ErrorCode"] != "FileSystemNotFound" || body["Message"] != "File system 'fs-0123456789abcdef0' does not exist." {
		t.Fatalf("%d %v %v", resp.StatusCode, resp.Header, body)
	}
	resp2, err := http.Get(e.url + "/2015-02-01/mount-targets")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 404 || resp2.Header.Get("x-amzn-ErrorType") != "UnknownOperationException" {
		t.Fatalf("an operation the simulator lacks: %d %v", resp2.StatusCode, resp2.Header)
	}
}

// TestRestartKeepsFileSystems starts a second service on the first one's
// directories: file systems, access points, their data and the paging order
// are all there.
func TestRestartKeepsFileSystems(t *testing.T) {
	ctx := context.Background()
	data, dir := t.TempDir(), t.TempDir()
	first := newEnv(t, data, dir)
	f, err := first.c.CreateFileSystem(ctx, &efssdk.CreateFileSystemInput{CreationToken: aws.String("kept")})
	if err != nil {
		t.Fatal(err)
	}
	ap, err := first.c.CreateAccessPoint(ctx, &efssdk.CreateAccessPointInput{FileSystemId: f.FileSystemId, RootDirectory: &types.RootDirectory{
		Path: aws.String("/v"), CreationInfo: &types.CreationInfo{OwnerUid: aws.Int64(993), OwnerGid: aws.Int64(990), Permissions: aws.String("0750")}}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := first.svc.Mount(aws.ToString(ap.AccessPointArn))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m.Dir, "data"), []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}

	second := newEnv(t, data, dir)
	fs, err := second.c.DescribeFileSystems(ctx, &efssdk.DescribeFileSystemsInput{CreationToken: aws.String("kept")})
	if err != nil || len(fs.FileSystems) != 1 || aws.ToString(fs.FileSystems[0].FileSystemId) != aws.ToString(f.FileSystemId) ||
		fs.FileSystems[0].SizeInBytes.Value != emptySize+4 {
		t.Fatalf("after restart: %v %+v", err, fs)
	}
	aps, err := second.c.DescribeAccessPoints(ctx, &efssdk.DescribeAccessPointsInput{FileSystemId: f.FileSystemId})
	if err != nil || len(aps.AccessPoints) != 1 || aws.ToString(aps.AccessPoints[0].RootDirectory.CreationInfo.Permissions) != "0750" {
		t.Fatalf("access points after restart: %v %+v", err, aps)
	}
	m2, err := second.svc.Mount(aws.ToString(ap.AccessPointArn))
	if err != nil || m2.Dir != m.Dir {
		t.Fatalf("mount after restart: %v %+v", err, m2)
	}
	if b, err := os.ReadFile(filepath.Join(m2.Dir, "data")); err != nil || string(b) != "kept" {
		t.Fatalf("data after restart: %v %q", err, b)
	}
	// The creation order goes on: a new file system pages after the old one.
	if _, err := second.c.CreateFileSystem(ctx, &efssdk.CreateFileSystemInput{CreationToken: aws.String("new")}); err != nil {
		t.Fatal(err)
	}
	page, err := second.c.DescribeFileSystems(ctx, &efssdk.DescribeFileSystemsInput{MaxItems: aws.Int32(1)})
	if err != nil || len(page.FileSystems) != 1 || aws.ToString(page.FileSystems[0].CreationToken) != "kept" || page.NextMarker == nil {
		t.Fatalf("first page after restart: %v %+v", err, page)
	}
}

// TestMount checks how an access point's root directory is made on first
// use: CreationInfo's owner and permissions, or a failed mount without it.
func TestMount(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, t.TempDir(), t.TempDir())
	f, err := e.c.CreateFileSystem(ctx, &efssdk.CreateFileSystemInput{CreationToken: aws.String("m")})
	if err != nil {
		t.Fatal(err)
	}
	ap, err := e.c.CreateAccessPoint(ctx, &efssdk.CreateAccessPointInput{FileSystemId: f.FileSystemId,
		PosixUser: &types.PosixUser{Uid: aws.Int64(1001), Gid: aws.Int64(1002), SecondaryGids: []int64{7, 8}},
		RootDirectory: &types.RootDirectory{Path: aws.String("/a/b"), CreationInfo: &types.CreationInfo{
			OwnerUid: aws.Int64(1001), OwnerGid: aws.Int64(1002), Permissions: aws.String("2750")}}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.svc.Mount(aws.ToString(ap.AccessPointArn))
	if err != nil {
		t.Fatal(err)
	}
	if m.Dir != filepath.Join(e.svc.cfg.Dir, aws.ToString(f.FileSystemId), "a", "b") || m.User == nil ||
		m.User.UID != 1001 || m.User.GID != 1002 || len(m.User.SecondaryGIDs) != 2 {
		t.Fatalf("mount %+v", m)
	}
	info, err := os.Stat(m.Dir)
	if err != nil {
		t.Fatal(err)
	}
	st := info.Sys().(*syscall.Stat_t)
	if os.Geteuid() == 0 {
		if st.Uid != 1001 || st.Gid != 1002 || st.Mode&0o7777 != 0o2750 {
			t.Fatalf("root directory %d:%d %o, want 1001:1002 2750", st.Uid, st.Gid, st.Mode&0o7777)
		}
	} else if st.Mode&0o777 != 0o777 {
		t.Fatalf("root directory %o: not root, it should be writable for everyone", st.Mode&0o7777)
	}

	bare, err := e.c.CreateAccessPoint(ctx, &efssdk.CreateAccessPointInput{FileSystemId: f.FileSystemId, RootDirectory: &types.RootDirectory{Path: aws.String("/missing")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Mount(aws.ToString(bare.AccessPointArn)); !errors.Is(err, ErrMount) {
		t.Fatalf("a missing root directory without CreationInfo mounted: %v", err)
	}
	if !e.svc.AccessPointExists(aws.ToString(bare.AccessPointArn)) || e.svc.AccessPointExists("arn:aws:elasticfilesystem:eu-west-1:"+acct+":access-point/"+aws.ToString(bare.AccessPointId)) {
		t.Fatal("AccessPointExists")
	}
	if _, err := e.c.DeleteAccessPoint(ctx, &efssdk.DeleteAccessPointInput{AccessPointId: ap.AccessPointId}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Mount(aws.ToString(ap.AccessPointArn)); !errors.Is(err, ErrMount) {
		t.Fatalf("a deleted access point mounted: %v", err)
	}
	// Its data stays in the file system.
	if _, err := os.Stat(m.Dir); err != nil {
		t.Fatalf("a deleted access point took its directory along: %v", err)
	}
}
