package lambda

import (
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/mount"

	"github.com/sockerless-lambda/sockerless/simulator/awsapi"
)

// File systems: FileSystemConfigs mounts an EFS access point into every
// execution environment of the function, bind-mounted from the directory
// that the simulator's EFS keeps for it.
//
// AWS also requires the function to be connected to the file system's VPC
// (VpcConfig with subnets that reach a mount target) and refuses
// FileSystemConfigs without one. The simulator has no VPCs and EFS has no
// mount targets there, so it does not ask for VpcConfig: a function that
// works here may still need one on AWS.

type fileSystemConfigInput struct {
	Arn            *string
	LocalMountPath *string
}

const (
	fileSystemARNPattern  = `arn:aws[a-zA-Z-]*:elasticfilesystem:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\d{1}:\d{12}:access-point/fsap-[a-f0-9]{17}$|^arn:aws[-a-z]*:s3files:[0-9a-z-:]+:file-system/fs-[0-9a-f]{17,40}/access-point/fsap-[0-9a-f]{17,40}`
	localMountPathPattern = `/mnt/[a-zA-Z0-9-_.]+`
)

var (
	fileSystemARNRE  = regexp.MustCompile(`^(?:` + fileSystemARNPattern + `)$`)
	localMountPathRE = regexp.MustCompile(`^` + localMountPathPattern + `$`)
)

// checkFileSystemConfigs adds the model's constraint violations of
// FileSystemConfigs: at most one, each with an access point ARN and a
// LocalMountPath under /mnt/.
func checkFileSystemConfigs(v *violations, list []fileSystemConfigInput) {
	if len(list) > 1 {
		items := make([]string, len(list))
		for i, c := range list {
			items[i] = fmt.Sprintf("FileSystemConfig(Arn=%s, LocalMountPath=%s)", deref(c.Arn), deref(c.LocalMountPath))
		}
		v.add("["+strings.Join(items, ", ")+"]", "fileSystemConfigs", "Member must have length less than or equal to 1")
	}
	for i, c := range list {
		m := "fileSystemConfigs." + strconv.Itoa(i+1) + ".member."
		switch {
		case c.Arn == nil:
			v.add("null", m+"arn", "Member must not be null")
		case len(*c.Arn) > 256:
			v.add(*c.Arn, m+"arn", "Member must have length less than or equal to 256")
		case !fileSystemARNRE.MatchString(*c.Arn):
			v.add(*c.Arn, m+"arn", "Member must satisfy regular expression pattern: "+fileSystemARNPattern)
		}
		switch {
		case c.LocalMountPath == nil:
			v.add("null", m+"localMountPath", "Member must not be null")
		case len(*c.LocalMountPath) > 160:
			v.add(*c.LocalMountPath, m+"localMountPath", "Member must have length less than or equal to 160")
		case !localMountPathRE.MatchString(*c.LocalMountPath):
			v.add(*c.LocalMountPath, m+"localMountPath", "Member must satisfy regular expression pattern: "+localMountPathPattern)
		}
	}
}

func deref(p *string) string {
	if p == nil {
		return "null"
	}
	return *p
}

// checkFileSystems is Lambda's own check once the model's constraints hold:
// the access point must exist.
func (s *Service) checkFileSystems(list []fileSystemConfigInput) error {
	for _, c := range list {
		if s.fs == nil || !s.fs.AccessPointExists(*c.Arn) {
			return errInvalidParameter("The access point " + *c.Arn + " does not exist. Specify the ARN of an existing Amazon EFS access point.")
		}
	}
	return nil
}

// errEFSMountFailure is Invoke's answer when an environment cannot mount the
// function's file system, as Lambda's when the access point was deleted or
// its root directory cannot be made: AWS's troubleshooting guide quotes this
// message for it.
func errEFSMountFailure(arn string) *awsapi.RestJSONError {
	return &awsapi.RestJSONError{
		Status: http.StatusForbidden, Code: "EFSMountFailureException", Type: "User",
		Message: "The function could not mount the EFS file system with access point " + arn + ".",
	}
}

// fsMounts readies the function's file systems for a new environment:
// the bind mounts, and the identity the environment runs as.
//
// Without a PosixUser the environment runs as Lambda's sandbox user
// (993:990) and files it creates belong to it, as on EFS, where the client's
// identity is used. An access point's PosixUser is the identity EFS applies
// to every file operation through it: files created belong to it and
// permissions are checked against it. A bind mount cannot rewrite
// identities, so the environment then runs as the PosixUser (its secondary
// gids as supplementary groups): ownership and permission checks on the
// mount come out as on EFS, but the function's own uid and gid are the
// PosixUser's where Lambda's would stay 993:990. A PosixUser of uid 0 keeps
// only the capabilities that root has over files on EFS (chown, overriding
// permissions), none of a container root's others.
func (s *Service) fsMounts(conf functionConfiguration) (envMounts, error) {
	out := envMounts{user: sandboxUser}
	for _, c := range conf.FileSystemConfigs {
		if s.fs == nil {
			return envMounts{}, errEFSMountFailure(c.Arn)
		}
		m, err := s.fs.Mount(c.Arn)
		if err != nil {
			slog.Info("lambda: file system mount failed", "function", conf.FunctionName, "accessPoint", c.Arn, "err", err)
			return envMounts{}, errEFSMountFailure(c.Arn)
		}
		out.mounts = append(out.mounts, mount.Mount{Type: mount.TypeBind, Source: m.Dir, Target: c.LocalMountPath})
		if u := m.User; u != nil {
			out.user = fmt.Sprintf("%d:%d", u.UID, u.GID)
			for _, g := range u.SecondaryGIDs {
				out.groups = append(out.groups, strconv.FormatInt(g, 10))
			}
			if u.UID == 0 {
				out.caps = []string{"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID"}
			}
		}
	}
	return out, nil
}
