package efs

import (
	"log/slog"
	"net/http"
	"reflect"
	"sort"
	"strconv"
)

// maxAccessPoints is EFS's default quota of access points per file system.
const maxAccessPoints = 10000

type posixUser struct {
	Uid           *int64
	Gid           *int64
	SecondaryGids []int64 `json:",omitempty"`
}

type creationInfo struct {
	OwnerUid    *int64
	OwnerGid    *int64
	Permissions *string
}

type rootDirectory struct {
	Path         *string
	CreationInfo *creationInfo `json:",omitempty"`
}

type createAccessPointInput struct {
	ClientToken   *string
	Tags          []tag
	FileSystemId  *string
	PosixUser     *posixUser
	RootDirectory *rootDirectory
}

// accessPointDescription is AccessPointDescription as EFS returns it.
type accessPointDescription struct {
	ClientToken    string
	Name           *string `json:",omitempty"`
	Tags           []tag
	AccessPointId  string
	AccessPointArn string
	FileSystemId   string
	PosixUser      *posixUser `json:",omitempty"`
	RootDirectory  rootDirectory
	OwnerId        string
	LifeCycleState string
}

func (s *Service) describeAccessPoint(ap *accessPoint, state string) accessPointDescription {
	return accessPointDescription{
		ClientToken: ap.ClientToken, Name: nameTag(ap.Tags), Tags: tagsOut(ap.Tags),
		AccessPointId: ap.ID, AccessPointArn: s.accessPointARN(ap.ID), FileSystemId: ap.FileSystemID,
		PosixUser: ap.PosixUser, RootDirectory: ap.RootDirectory, OwnerId: s.cfg.AccountID, LifeCycleState: state,
	}
}

func checkPosixID(v *violations, id *int64, member string) {
	switch {
	case id == nil:
		v.null(member)
	case *id < 0:
		v.add(*id, member, "Member must have value greater than or equal to 0")
	case *id > maxID:
		v.add(*id, member, "Member must have value less than or equal to "+strconv.Itoa(maxID))
	}
}

func (in *createAccessPointInput) validate() error {
	var v violations
	checkToken(&v, in.ClientToken, "clientToken")
	checkTags(&v, in.Tags)
	if in.FileSystemId == nil {
		v.null("fileSystemId")
	} else {
		checkID(&v, *in.FileSystemId, "fileSystemId", fileSystemIDRE, fileSystemIDPattern)
	}
	if u := in.PosixUser; u != nil {
		checkPosixID(&v, u.Uid, "posixUser.uid")
		checkPosixID(&v, u.Gid, "posixUser.gid")
		if len(u.SecondaryGids) > 16 {
			v.add(u.SecondaryGids, "posixUser.secondaryGids", "Member must have length less than or equal to 16")
		}
		for i, g := range u.SecondaryGids {
			checkPosixID(&v, &g, "posixUser.secondaryGids."+strconv.Itoa(i+1)+".member")
		}
	}
	if rd := in.RootDirectory; rd != nil {
		if p := rd.Path; p != nil {
			switch {
			case len(*p) < 1:
				v.add(*p, "rootDirectory.path", "Member must have length greater than or equal to 1")
			case len(*p) > 100:
				v.add(*p, "rootDirectory.path", "Member must have length less than or equal to 100")
			case !validPath(*p):
				v.add(*p, "rootDirectory.path", "Member must satisfy regular expression pattern: "+pathPattern)
			}
		}
		if ci := rd.CreationInfo; ci != nil {
			checkPosixID(&v, ci.OwnerUid, "rootDirectory.creationInfo.ownerUid")
			checkPosixID(&v, ci.OwnerGid, "rootDirectory.creationInfo.ownerGid")
			switch p := ci.Permissions; {
			case p == nil:
				v.null("rootDirectory.creationInfo.permissions")
			case len(*p) < 3 || len(*p) > 4:
				v.add(*p, "rootDirectory.creationInfo.permissions", "Member must have length between 3 and 4")
			case !permissionsRE.MatchString(*p):
				v.add(*p, "rootDirectory.creationInfo.permissions", "Member must satisfy regular expression pattern: "+permissionsPattern)
			}
		}
	}
	return v.err()
}

func (s *Service) createAccessPoint(w http.ResponseWriter, r *http.Request) {
	var in createAccessPointInput
	out, err := func() (any, error) {
		if err := decode(r, &in); err != nil {
			return nil, err
		}
		if err := in.validate(); err != nil {
			return nil, err
		}
		fsID, ok := s.localID(*in.FileSystemId, "file-system")
		ap := &accessPoint{
			ID: newID("fsap-"), FileSystemID: fsID, ClientToken: *in.ClientToken,
			PosixUser: in.PosixUser, Tags: in.Tags,
		}
		if in.RootDirectory != nil {
			ap.RootDirectory = *in.RootDirectory
		}
		if ap.RootDirectory.Path == nil {
			// No path is the file system's root, and EFS says so.
			root := "/"
			ap.RootDirectory.Path = &root
		}

		s.mu.Lock()
		if _, exists := s.st.FileSystems[fsID]; !ok || !exists {
			s.mu.Unlock()
			return nil, errFileSystemNotFound(*in.FileSystemId)
		}
		n := 0
		for _, other := range s.st.AccessPoints {
			if other.ClientToken == ap.ClientToken {
				// A retry with the same token and parameters gets the access point
				// it created; the same token for another one is refused.
				same := other.FileSystemID == ap.FileSystemID && reflect.DeepEqual(other.PosixUser, ap.PosixUser) &&
					reflect.DeepEqual(other.RootDirectory, ap.RootDirectory) && reflect.DeepEqual(tagsOut(other.Tags), tagsOut(ap.Tags))
				s.mu.Unlock()
				if same {
					return s.describeAccessPoint(other, "available"), nil
				}
				return nil, errAccessPointAlreadyExists(other.ID, other.ClientToken)
			}
			if other.FileSystemID == fsID {
				n++
			}
		}
		if n >= maxAccessPoints {
			s.mu.Unlock()
			return nil, errAccessPointLimit(fsID)
		}
		s.st.Seq++
		ap.Seq = s.st.Seq
		s.st.AccessPoints[ap.ID] = ap
		s.mu.Unlock()
		if err := s.save(); err != nil {
			return nil, err
		}
		slog.Info("efs: access point created", "id", ap.ID, "fileSystem", fsID, "path", *ap.RootDirectory.Path)
		// Its root directory is made when a client first mounts it, as on EFS.
		return s.describeAccessPoint(ap, "creating"), nil
	}()
	respond(w, "CreateAccessPoint", http.StatusOK, out, err)
}

type describeAccessPointsOutput struct {
	AccessPoints []accessPointDescription
	NextToken    *string `json:",omitempty"`
}

func (s *Service) describeAccessPoints(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	out, err := func() (any, error) {
		var v violations
		limit := pageSize(&v, q.Get("MaxResults"), "maxResults")
		apID, fsID, next := q.Get("AccessPointId"), q.Get("FileSystemId"), q.Get("NextToken")
		if q.Has("AccessPointId") {
			checkID(&v, apID, "accessPointId", accessPointIDRE, accessPointIDPattern)
		}
		if q.Has("FileSystemId") {
			checkID(&v, fsID, "fileSystemId", fileSystemIDRE, fileSystemIDPattern)
		}
		if q.Has("NextToken") && (len(next) < 1 || len(next) > 128) {
			v.add(next, "nextToken", "Member must have length between 1 and 128")
		}
		if err := v.err(); err != nil {
			return nil, err
		}
		if apID != "" && fsID != "" {
			return nil, errBadRequest("Request cannot contain both an access point ID and a file system ID.")
		}
		from := int64(0)
		if next != "" {
			n, ok := parsePageToken(next)
			if !ok {
				return nil, errBadRequest("The NextToken '%s' is not valid.", next)
			}
			from = n
		}

		s.mu.Lock()
		defer s.mu.Unlock()
		var list []*accessPoint
		switch {
		case apID != "":
			local, ok := s.localID(apID, "access-point")
			ap := s.st.AccessPoints[local]
			if !ok || ap == nil {
				return nil, errAccessPointNotFound(apID)
			}
			list = []*accessPoint{ap}
		default:
			local := ""
			if fsID != "" {
				id, ok := s.localID(fsID, "file-system")
				if _, exists := s.st.FileSystems[id]; !ok || !exists {
					return nil, errFileSystemNotFound(fsID)
				}
				local = id
			}
			for _, ap := range s.st.AccessPoints {
				if (local == "" || ap.FileSystemID == local) && ap.Seq >= from {
					list = append(list, ap)
				}
			}
		}
		sort.Slice(list, func(i, j int) bool { return list[i].Seq < list[j].Seq })
		res := describeAccessPointsOutput{AccessPoints: []accessPointDescription{}}
		if len(list) > limit {
			tok := pageToken(list[limit].Seq)
			res.NextToken = &tok
			list = list[:limit]
		}
		for _, ap := range list {
			res.AccessPoints = append(res.AccessPoints, s.describeAccessPoint(ap, "available"))
		}
		return res, nil
	}()
	respond(w, "DescribeAccessPoints", http.StatusOK, out, err)
}

func (s *Service) deleteAccessPoint(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("id")
	err := func() error {
		var v violations
		checkID(&v, raw, "accessPointId", accessPointIDRE, accessPointIDPattern)
		if err := v.err(); err != nil {
			return err
		}
		id, ok := s.localID(raw, "access-point")
		s.mu.Lock()
		if _, exists := s.st.AccessPoints[id]; !ok || !exists {
			s.mu.Unlock()
			return errAccessPointNotFound(raw)
		}
		delete(s.st.AccessPoints, id)
		s.mu.Unlock()
		if err := s.save(); err != nil {
			return err
		}
		// Its root directory and what it holds stay in the file system, as on
		// EFS; environments that have it mounted keep it until they end.
		slog.Info("efs: access point deleted", "id", id)
		return nil
	}()
	respond(w, "DeleteAccessPoint", http.StatusNoContent, nil, err)
}
