package efs

import (
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"time"
)

type createFileSystemInput struct {
	CreationToken                *string
	PerformanceMode              *string
	Encrypted                    *bool
	KmsKeyId                     *string
	ThroughputMode               *string
	ProvisionedThroughputInMibps *float64
	AvailabilityZoneName         *string
	Backup                       *bool
	Tags                         []tag
}

type fileSystemSize struct {
	Value           int64
	Timestamp       float64
	ValueInIA       int64
	ValueInStandard int64
	ValueInArchive  int64
}

// fileSystemDescription is FileSystemDescription as EFS returns it.
type fileSystemDescription struct {
	OwnerId                      string
	CreationToken                string
	FileSystemId                 string
	FileSystemArn                string
	CreationTime                 float64
	LifeCycleState               string
	Name                         *string `json:",omitempty"`
	NumberOfMountTargets         int
	SizeInBytes                  fileSystemSize
	PerformanceMode              string
	Encrypted                    bool
	KmsKeyId                     string   `json:",omitempty"`
	ThroughputMode               string   `json:",omitempty"`
	ProvisionedThroughputInMibps *float64 `json:",omitempty"`
	AvailabilityZoneName         string   `json:",omitempty"`
	Tags                         []tag
	FileSystemProtection         struct{ ReplicationOverwriteProtection string }
}

// emptySize is the metered size of an empty EFS file system.
const emptySize = 6144

func (s *Service) describe(f *fileSystem, state string) fileSystemDescription {
	d := fileSystemDescription{
		OwnerId: s.cfg.AccountID, CreationToken: f.CreationToken, FileSystemId: f.ID, FileSystemArn: s.fileSystemARN(f.ID),
		CreationTime: epoch(f.CreatedAt), LifeCycleState: state, Name: nameTag(f.Tags),
		PerformanceMode: f.PerformanceMode, Encrypted: f.Encrypted, KmsKeyId: f.KmsKeyID,
		ThroughputMode: f.ThroughputMode, ProvisionedThroughputInMibps: f.ProvisionedMiBs,
		AvailabilityZoneName: f.AZName, Tags: tagsOut(f.Tags),
	}
	d.FileSystemProtection.ReplicationOverwriteProtection = "ENABLED"
	used := s.usedBytes(f.ID)
	d.SizeInBytes = fileSystemSize{Value: emptySize + used, ValueInStandard: emptySize + used, Timestamp: epoch(time.Now())}
	return d
}

// usedBytes is what the file system's regular files hold. EFS meters
// eventually; the simulator counts at each describe.
func (s *Service) usedBytes(id string) int64 {
	var n int64
	_ = filepath.WalkDir(s.fsDir(id), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

func (in *createFileSystemInput) validate() error {
	var v violations
	checkToken(&v, in.CreationToken, "creationToken")
	if p := in.PerformanceMode; p != nil && *p != "generalPurpose" && *p != "maxIO" {
		v.add(*p, "performanceMode", "Member must satisfy enum value set: [generalPurpose, maxIO]")
	}
	if t := in.ThroughputMode; t != nil && *t != "bursting" && *t != "provisioned" && *t != "elastic" {
		v.add(*t, "throughputMode", "Member must satisfy enum value set: [bursting, provisioned, elastic]")
	}
	if p := in.ProvisionedThroughputInMibps; p != nil && *p < 1 {
		v.add(*p, "provisionedThroughputInMibps", "Member must have value greater than or equal to 1.0")
	}
	if k := in.KmsKeyId; k != nil && (len(*k) > 2048 || !kmsKeyIDRE.MatchString(*k)) {
		v.add(*k, "kmsKeyId", "Member must satisfy regular expression pattern: "+kmsKeyIDPattern)
	}
	if az := in.AvailabilityZoneName; az != nil && (len(*az) < 1 || len(*az) > 64) {
		v.add(*az, "availabilityZoneName", "Member must have length between 1 and 64")
	}
	checkTags(&v, in.Tags)
	if err := v.err(); err != nil {
		return err
	}
	mode := deref(in.ThroughputMode, "bursting")
	switch {
	case mode == "provisioned" && in.ProvisionedThroughputInMibps == nil:
		return errBadRequest("ProvisionedThroughputInMibps is required when ThroughputMode is provisioned.")
	case mode != "provisioned" && in.ProvisionedThroughputInMibps != nil:
		return errBadRequest("ProvisionedThroughputInMibps can only be specified when ThroughputMode is provisioned.")
	case in.KmsKeyId != nil && (in.Encrypted == nil || !*in.Encrypted):
		return errBadRequest("KmsKeyId can only be specified when Encrypted is true.")
	case deref(in.PerformanceMode, "") == "maxIO" && (mode == "elastic" || in.AvailabilityZoneName != nil):
		return errBadRequest("Max I/O performance mode is not supported for file systems using Elastic throughput or One Zone storage.")
	}
	return nil
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func (s *Service) createFileSystem(w http.ResponseWriter, r *http.Request) {
	var in createFileSystemInput
	out, err := func() (any, error) {
		if err := decode(r, &in); err != nil {
			return nil, err
		}
		if err := in.validate(); err != nil {
			return nil, err
		}
		f := &fileSystem{
			ID: newID("fs-"), CreationToken: *in.CreationToken, CreatedAt: time.Now().UTC(),
			PerformanceMode: deref(in.PerformanceMode, "generalPurpose"), ThroughputMode: deref(in.ThroughputMode, "bursting"),
			ProvisionedMiBs: in.ProvisionedThroughputInMibps, Encrypted: deref(in.Encrypted, false),
			AZName: deref(in.AvailabilityZoneName, ""), Tags: in.Tags,
		}
		if f.Encrypted {
			// Without a key, EFS uses the account's AWS managed key for EFS.
			f.KmsKeyID = deref(in.KmsKeyId, "arn:aws:kms:"+s.cfg.Region+":"+s.cfg.AccountID+":alias/aws/elasticfilesystem")
		}
		// The directory first: a file system listed must have its storage.
		if err := os.MkdirAll(s.fsDir(f.ID), 0o755); err != nil {
			return nil, fmt.Errorf("create the directory of %s: %w", f.ID, err)
		}
		s.mu.Lock()
		for _, other := range s.st.FileSystems {
			if other.CreationToken == f.CreationToken {
				s.mu.Unlock()
				_ = os.Remove(s.fsDir(f.ID))
				return nil, errFileSystemAlreadyExists(other.ID, other.CreationToken)
			}
		}
		s.st.Seq++
		f.Seq = s.st.Seq
		s.st.FileSystems[f.ID] = f
		s.mu.Unlock()
		if err := s.save(); err != nil {
			return nil, err
		}
		slog.Info("efs: file system created", "id", f.ID, "dir", s.fsDir(f.ID))
		// EFS answers while the file system is still creating; the simulator's
		// is available as soon as its directory exists, which it already does.
		return s.describe(f, "creating"), nil
	}()
	respond(w, "CreateFileSystem", http.StatusCreated, out, err)
}

type describeFileSystemsOutput struct {
	Marker      *string `json:",omitempty"`
	FileSystems []fileSystemDescription
	NextMarker  *string `json:",omitempty"`
}

func (s *Service) describeFileSystems(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out, err := func() (any, error) {
		var v violations
		limit := pageSize(&v, q.Get("MaxItems"), "maxItems")
		id, token, marker := q.Get("FileSystemId"), q.Get("CreationToken"), q.Get("Marker")
		if q.Has("FileSystemId") {
			checkID(&v, id, "fileSystemId", fileSystemIDRE, fileSystemIDPattern)
		}
		if q.Has("CreationToken") && (len(token) < 1 || len(token) > 64) {
			v.add(token, "creationToken", "Member must have length between 1 and 64")
		}
		if err := v.err(); err != nil {
			return nil, err
		}
		if id != "" && token != "" {
			return nil, errBadRequest("Request cannot contain both a file system ID and a creation token.")
		}
		from := int64(0)
		if marker != "" {
			n, ok := parsePageToken(marker)
			if !ok {
				return nil, errBadRequest("The marker '%s' is not valid.", marker)
			}
			from = n
		}

		s.mu.Lock()
		var list []*fileSystem
		switch {
		case id != "":
			local, ok := s.localID(id, "file-system")
			f := s.st.FileSystems[local]
			if !ok || f == nil {
				s.mu.Unlock()
				return nil, errFileSystemNotFound(id)
			}
			list = []*fileSystem{f}
		default:
			for _, f := range s.st.FileSystems {
				if (token == "" || f.CreationToken == token) && f.Seq >= from {
					list = append(list, f)
				}
			}
		}
		sort.Slice(list, func(i, j int) bool { return list[i].Seq < list[j].Seq })
		res := describeFileSystemsOutput{FileSystems: []fileSystemDescription{}}
		if marker != "" {
			res.Marker = &marker
		}
		if len(list) > limit {
			next := pageToken(list[limit].Seq)
			res.NextMarker = &next
			list = list[:limit]
		}
		page := make([]fileSystem, len(list))
		for i, f := range list {
			page[i] = *f
		}
		s.mu.Unlock()
		for i := range page {
			res.FileSystems = append(res.FileSystems, s.describe(&page[i], "available"))
		}
		return res, nil
	}()
	respond(w, "DescribeFileSystems", http.StatusOK, out, err)
}

func (s *Service) deleteFileSystem(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("id")
	err := func() error {
		var v violations
		checkID(&v, raw, "fileSystemId", fileSystemIDRE, fileSystemIDPattern)
		if err := v.err(); err != nil {
			return err
		}
		id, ok := s.localID(raw, "file-system")
		s.mu.Lock()
		if _, exists := s.st.FileSystems[id]; !ok || !exists {
			s.mu.Unlock()
			return errFileSystemNotFound(raw)
		}
		n := 0
		for _, ap := range s.st.AccessPoints {
			if ap.FileSystemID == id {
				n++
			}
		}
		if n > 0 {
			s.mu.Unlock()
			return errFileSystemInUse(id, n)
		}
		delete(s.st.FileSystems, id)
		s.mu.Unlock()
		if err := s.save(); err != nil {
			return err
		}
		// The data goes with the file system, as on EFS.
		if err := os.RemoveAll(s.fsDir(id)); err != nil {
			slog.Warn("efs: remove the directory of a deleted file system", "id", id, "dir", s.fsDir(id), "err", err)
		}
		slog.Info("efs: file system deleted", "id", id)
		return nil
	}()
	respond(w, "DeleteFileSystem", http.StatusNoContent, nil, err)
}
