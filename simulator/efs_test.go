package simulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	efssdk "github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
	lambdasvc "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"

	"github.com/sockerless-lambda/sockerless/simulator"
)

// fsResult is the handler's account of its file operations.
type fsResult struct {
	WriteErr, Data, ReadErr  string
	UID, GID, DirUID, DirGID int
}

type handlerAnswer struct {
	UID, GID int
	Groups   []int
	FS       *fsResult `json:"fs"`
}

// invokeFS runs one file operation in the function and returns its answer.
func invokeFS(t *testing.T, c *lambdasvc.Client, fn string, op map[string]string) handlerAnswer {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{"fs": op})
	out, err := c.Invoke(context.Background(), &lambdasvc.InvokeInput{FunctionName: aws.String(fn), Payload: payload})
	if err != nil {
		t.Fatalf("invoke %s: %v", fn, err)
	}
	if out.FunctionError != nil {
		t.Fatalf("invoke %s: %s %s", fn, aws.ToString(out.FunctionError), out.Payload)
	}
	var a handlerAnswer
	if err := json.Unmarshal(out.Payload, &a); err != nil || a.FS == nil {
		t.Fatalf("invoke %s answered %s: %v", fn, out.Payload, err)
	}
	return a
}

func createFSFunction(t *testing.T, c *lambdasvc.Client, name, image, apARN, mountPath string) {
	t.Helper()
	in := &lambdasvc.CreateFunctionInput{
		FunctionName: aws.String(name), Role: aws.String("arn:aws:iam::123456789012:role/r"),
		PackageType: lambdatypes.PackageTypeImage, Code: &lambdatypes.FunctionCode{ImageUri: aws.String(image)}, Timeout: aws.Int32(10),
	}
	if apARN != "" {
		in.FileSystemConfigs = []lambdatypes.FileSystemConfig{{Arn: aws.String(apARN), LocalMountPath: aws.String(mountPath)}}
	}
	if _, err := c.CreateFunction(context.Background(), in); err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	w := lambdasvc.NewFunctionActiveV2Waiter(c, func(o *lambdasvc.FunctionActiveV2WaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := w.Wait(context.Background(), &lambdasvc.GetFunctionInput{FunctionName: aws.String(name)}, time.Minute); err != nil {
		t.Fatalf("%s never became Active: %v", name, err)
	}
}

func wantAPIError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), msg) {
		t.Fatalf("want %s %q, got %v", code, msg, err)
	}
}

// TestLambdaEFS mounts one access point into two functions through
// FileSystemConfigs: what one writes under the mount, the other reads, and
// the host directory behind the file system holds it. An access point with a
// PosixUser gives files its owner; FileSystemConfigs are validated as AWS
// does, and an access point deleted under a function fails its next cold
// start with EFSMountFailureException.
func TestLambdaEFS(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	efsDir := filepath.Join(dir, "efs")
	srv, err := simulator.New(simulator.Config{
		Addr: "127.0.0.1:0", Region: "us-east-1", AccountID: account, EFSDir: efsDir,
		PendingDelay: 10 * time.Millisecond, IdleTimeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("close simulator: %v", err)
		}
		removeImagesFrom(t, srv.Addr())
	})
	image := pushToECR(t, srv, dir)
	fsc := efssdk.NewFromConfig(awsConfig(srv.URL()))
	fns := lambdasvc.NewFromConfig(awsConfig(srv.URL()))

	f, err := fsc.CreateFileSystem(ctx, &efssdk.CreateFileSystemInput{CreationToken: aws.String("volumes")})
	if err != nil {
		t.Fatal(err)
	}
	fsID := aws.ToString(f.FileSystemId)
	// As the backend maps volumes: one access point, each volume a subdirectory.
	ap, err := fsc.CreateAccessPoint(ctx, &efssdk.CreateAccessPointInput{FileSystemId: f.FileSystemId, RootDirectory: &efstypes.RootDirectory{
		Path: aws.String("/sockerless"), CreationInfo: &efstypes.CreationInfo{OwnerUid: aws.Int64(993), OwnerGid: aws.Int64(990), Permissions: aws.String("755")}}})
	if err != nil {
		t.Fatal(err)
	}
	apARN := aws.ToString(ap.AccessPointArn)

	createFSFunction(t, fns, "writer", image, apARN, "/mnt/sockerless")
	createFSFunction(t, fns, "reader", image, apARN, "/mnt/sockerless")
	got, err := fns.GetFunction(ctx, &lambdasvc.GetFunctionInput{FunctionName: aws.String("reader")})
	if err != nil || len(got.Configuration.FileSystemConfigs) != 1 || aws.ToString(got.Configuration.FileSystemConfigs[0].Arn) != apARN ||
		aws.ToString(got.Configuration.FileSystemConfigs[0].LocalMountPath) != "/mnt/sockerless" {
		t.Fatalf("GetFunction: %v %+v", err, got)
	}

	w := invokeFS(t, fns, "writer", map[string]string{"write": "/mnt/sockerless/vol1/hello", "data": "from the writer", "read": "/mnt/sockerless/vol1/hello"})
	if w.FS.WriteErr != "" || w.FS.Data != "from the writer" || w.UID != 993 || w.FS.UID != 993 || w.FS.GID != 990 {
		t.Fatalf("writer: %+v %+v", w, w.FS)
	}
	r := invokeFS(t, fns, "reader", map[string]string{"read": "/mnt/sockerless/vol1/hello"})
	if r.FS.ReadErr != "" || r.FS.Data != "from the writer" {
		t.Fatalf("reader: %+v", r.FS)
	}
	host := filepath.Join(efsDir, fsID, "sockerless", "vol1", "hello")
	if b, err := os.ReadFile(host); err != nil || string(b) != "from the writer" {
		t.Fatalf("on the host, %s: %v %q", host, err, b)
	}
	if info, err := os.Stat(filepath.Dir(filepath.Dir(host))); err != nil {
		t.Fatal(err)
	} else if st := info.Sys().(*syscall.Stat_t); os.Geteuid() == 0 && (st.Uid != 993 || st.Gid != 990 || st.Mode&0o777 != 0o755) {
		t.Fatalf("the access point's root directory is %d:%d %o, want CreationInfo's 993:990 755", st.Uid, st.Gid, st.Mode&0o777)
	}

	// A PosixUser owns what is created through its access point.
	if os.Geteuid() == 0 {
		owned, err := fsc.CreateAccessPoint(ctx, &efssdk.CreateAccessPointInput{FileSystemId: f.FileSystemId,
			PosixUser: &efstypes.PosixUser{Uid: aws.Int64(1001), Gid: aws.Int64(1002), SecondaryGids: []int64{1003}},
			RootDirectory: &efstypes.RootDirectory{Path: aws.String("/owned"), CreationInfo: &efstypes.CreationInfo{
				OwnerUid: aws.Int64(1001), OwnerGid: aws.Int64(1002), Permissions: aws.String("750")}}})
		if err != nil {
			t.Fatal(err)
		}
		createFSFunction(t, fns, "owner", image, aws.ToString(owned.AccessPointArn), "/mnt/data")
		o := invokeFS(t, fns, "owner", map[string]string{"write": "/mnt/data/x/file", "data": "mine", "read": "/mnt/data/x/file"})
		if o.FS.WriteErr != "" || o.FS.UID != 1001 || o.FS.GID != 1002 || o.FS.DirUID != 1001 || len(o.Groups) == 0 {
			t.Fatalf("through a PosixUser: %+v %+v", o, o.FS)
		}
		if info, err := os.Stat(filepath.Join(efsDir, fsID, "owned", "x", "file")); err != nil || info.Sys().(*syscall.Stat_t).Uid != 1001 {
			t.Fatalf("on the host: %v", err)
		}
	}

	// Validation, as AWS does it.
	bad := func(name string, configs []lambdatypes.FileSystemConfig, code, msg string) {
		t.Helper()
		_, err := fns.CreateFunction(ctx, &lambdasvc.CreateFunctionInput{
			FunctionName: aws.String(name), Role: aws.String("arn:aws:iam::123456789012:role/r"),
			PackageType: lambdatypes.PackageTypeImage, Code: &lambdatypes.FunctionCode{ImageUri: aws.String(image)}, FileSystemConfigs: configs,
		})
		wantAPIError(t, err, code, msg)
	}
	cfg := func(arn, path string) lambdatypes.FileSystemConfig {
		return lambdatypes.FileSystemConfig{Arn: aws.String(arn), LocalMountPath: aws.String(path)}
	}
	bad("two", []lambdatypes.FileSystemConfig{cfg(apARN, "/mnt/a"), cfg(apARN, "/mnt/b")}, "ValidationException",
		"at 'fileSystemConfigs' failed to satisfy constraint: Member must have length less than or equal to 1")
	bad("path", []lambdatypes.FileSystemConfig{cfg(apARN, "/data")}, "ValidationException",
		"Value '/data' at 'fileSystemConfigs.1.member.localMountPath' failed to satisfy constraint: Member must satisfy regular expression pattern: /mnt/[a-zA-Z0-9-_.]+")
	bad("arn", []lambdatypes.FileSystemConfig{cfg(aws.ToString(f.FileSystemArn), "/mnt/x")}, "ValidationException",
		"at 'fileSystemConfigs.1.member.arn' failed to satisfy constraint: Member must satisfy regular expression pattern")
	missing := "arn:aws:elasticfilesystem:us-east-1:" + account + ":access-point/fsap-0123456789abcdef0"
	bad("missing", []lambdatypes.FileSystemConfig{cfg(missing, "/mnt/x")}, "InvalidParameterValueException", missing)
	_, err = fns.UpdateFunctionConfiguration(ctx, &lambdasvc.UpdateFunctionConfigurationInput{FunctionName: aws.String("reader"),
		FileSystemConfigs: []lambdatypes.FileSystemConfig{cfg(missing, "/mnt/x")}})
	wantAPIError(t, err, "InvalidParameterValueException", missing)

	// The file system cannot go while its access point is used, nor can the
	// access point's data go with the access point.
	_, err = fsc.DeleteFileSystem(ctx, &efssdk.DeleteFileSystemInput{FileSystemId: f.FileSystemId})
	wantAPIError(t, err, "FileSystemInUse", "access point")

	// An access point deleted under a function: warm environments keep their
	// mount, as EFS lets connected clients go on; a new one cannot mount.
	gone, err := fsc.CreateAccessPoint(ctx, &efssdk.CreateAccessPointInput{FileSystemId: f.FileSystemId})
	if err != nil {
		t.Fatal(err)
	}
	createFSFunction(t, fns, "orphan", image, aws.ToString(gone.AccessPointArn), "/mnt/root")
	if _, err := fsc.DeleteAccessPoint(ctx, &efssdk.DeleteAccessPointInput{AccessPointId: gone.AccessPointId}); err != nil {
		t.Fatal(err)
	}
	_, err = fns.Invoke(ctx, &lambdasvc.InvokeInput{FunctionName: aws.String("orphan"), Payload: []byte("{}")})
	wantAPIError(t, err, "EFSMountFailureException", "The function could not mount the EFS file system with access point "+aws.ToString(gone.AccessPointArn)+".")
	var mf *lambdatypes.EFSMountFailureException
	if !errors.As(err, &mf) {
		t.Fatalf("not an *EFSMountFailureException: %T", err)
	}
	if b, err := os.ReadFile(host); err != nil || string(b) != "from the writer" {
		t.Fatalf("the volume after deleting another access point: %v %q", err, b)
	}

	// FileSystemConfigs [] detaches the file system.
	if _, err := fns.UpdateFunctionConfiguration(ctx, &lambdasvc.UpdateFunctionConfigurationInput{FunctionName: aws.String("orphan"),
		FileSystemConfigs: []lambdatypes.FileSystemConfig{}}); err != nil {
		t.Fatal(err)
	}
	wu := lambdasvc.NewFunctionUpdatedV2Waiter(fns, func(o *lambdasvc.FunctionUpdatedV2WaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := wu.Wait(ctx, &lambdasvc.GetFunctionInput{FunctionName: aws.String("orphan")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if out, err := fns.Invoke(ctx, &lambdasvc.InvokeInput{FunctionName: aws.String("orphan"), Payload: []byte("{}")}); err != nil || out.FunctionError != nil {
		t.Fatalf("invoke without the file system: %v", err)
	}
	list, err := fns.ListFunctions(ctx, &lambdasvc.ListFunctionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range list.Functions {
		want := 1
		if aws.ToString(fn.FunctionName) == "orphan" {
			want = 0
		}
		if len(fn.FileSystemConfigs) != want {
			t.Fatalf("ListFunctions: %s has %d file systems", aws.ToString(fn.FunctionName), len(fn.FileSystemConfigs))
		}
	}
}

// TestEFSDirConfig: SIM_EFS_DIR must be absolute, as the Docker engine
// bind-mounts it.
func TestEFSDirConfig(t *testing.T) {
	t.Setenv("SIM_EFS_DIR", "relative/efs")
	if _, err := simulator.ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "SIM_EFS_DIR") {
		t.Fatalf("a relative SIM_EFS_DIR: %v", err)
	}
	t.Setenv("SIM_EFS_DIR", "/srv/efs")
	if c, err := simulator.ConfigFromEnv(); err != nil || c.EFSDir != "/srv/efs" {
		t.Fatalf("an absolute SIM_EFS_DIR: %v %+v", err, c)
	}
}
