package backend

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"
	"github.com/gin-gonic/gin"
)

// Named volumes live on EFS: one access point (SOCKERLESS_EFS_ACCESS_POINT_ARN)
// is mounted at efsMountPath in every function whose container has a volume,
// and each volume is a directory there. Lambda mounts at most one file system
// per function, so one access point serves every volume of a container.
// Without an access point, a volume is a clear error, never a silent empty
// directory.
const efsMountPath = "/mnt/sockerless"

const noVolumesMessage = "named volumes are not available: on Lambda they live on EFS, and this backend has no access point configured (set SOCKERLESS_EFS_ACCESS_POINT_ARN)"

// anonymousLabel marks the volumes Docker creates for `-v /path` and for an
// image's VOLUME: `docker run --rm` and `docker rm -v` remove them.
const anonymousLabel = "com.docker.volume.anonymous"

// volumeNameRE is Docker's rule for local volume names.
var volumeNameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// Volume is one named volume.
type Volume struct {
	Name      string            `json:"name"`
	Dir       string            `json:"dir"` // its directory on the EFS access point: unique, so a re-created name starts empty
	CreatedAt time.Time         `json:"createdAt"`
	Labels    map[string]string `json:"labels"`
}

type volumes struct {
	use    sync.RWMutex // read: a create resolving its volumes; write: a volume's removal
	mu     sync.Mutex
	byName map[string]*Volume
	// purge holds the directories (under efsMountPath) of removed volumes:
	// only a function can reach EFS, so the agent of the next container that
	// mounts it deletes them and says so (protocol.MsgPurged).
	purge map[string]bool
}

func newVolumes() *volumes { return &volumes{byName: map[string]*Volume{}, purge: map[string]bool{}} }

// maxPurge bounds the directories one invocation is asked to delete, so that
// the payload stays small; the rest go with later runs.
const maxPurge = 32

// pendingPurge lists the directories still to delete, at most maxPurge.
func (v *volumes) pendingPurge() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	dirs := sortedKeys(v.purge)
	return dirs[:min(len(dirs), maxPurge)]
}

// purged records directories an agent deleted.
func (b *Backend) purged(dirs []string) {
	b.volumes.mu.Lock()
	var known []string
	for _, d := range dirs {
		if b.volumes.purge[d] {
			delete(b.volumes.purge, d)
			known = append(known, d)
		}
	}
	b.volumes.mu.Unlock()
	if len(known) > 0 {
		b.journal.record(volumeJournalStream, volumeEntry{Kind: "purged", Dirs: known})
		slog.Info("removed volumes' directories deleted from EFS", "dirs", known)
	}
}

func (v *volumes) get(name string) (*Volume, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	vol, ok := v.byName[name]
	return vol, ok
}

// ensure returns the volume name, creating it if it does not exist, as
// `docker volume create` and `docker run -v name:/path` do.
func (b *Backend) ensureVolume(name string, labels map[string]string) (*Volume, bool, error) {
	if b.cfg.EFSAccessPoint == "" {
		return nil, false, notImplemented("%s", noVolumesMessage)
	}
	if name == "" {
		name = randomHex(32)
	} else if !volumeNameRE.MatchString(name) {
		return nil, false, badRequest("create %s: %q includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path", name, name)
	}
	b.volumes.mu.Lock()
	if vol, ok := b.volumes.byName[name]; ok {
		b.volumes.mu.Unlock()
		return vol, false, nil
	}
	if labels == nil {
		labels = map[string]string{}
	}
	vol := &Volume{Name: name, Dir: name + "." + randomHex(6), CreatedAt: time.Now().UTC(), Labels: labels}
	b.volumes.byName[name] = vol
	b.volumes.mu.Unlock()
	b.journal.record(volumeJournalStream, volumeEntry{Kind: "create", Volume: vol})
	return vol, true, nil
}

func randomHex(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	return hex.EncodeToString(buf)
}

// volumeInfo is the volume as the Docker API shows it. Mountpoint is where
// functions see it; Status says where it is kept.
func (b *Backend) volumeInfo(vol *Volume) *volume.Volume {
	return &volume.Volume{
		Name: vol.Name, Driver: "local", Scope: "local",
		Mountpoint: efsMountPath + "/" + vol.Dir,
		CreatedAt:  vol.CreatedAt.Format(time.RFC3339),
		Labels:     vol.Labels, Options: map[string]string{},
		Status: map[string]any{"EFSAccessPoint": b.cfg.EFSAccessPoint, "Directory": vol.Dir},
	}
}

// usersOf lists the IDs of the containers that mount the volume.
func (b *Backend) usersOf(name string) []string {
	var ids []string
	for _, c := range b.store.List() {
		for _, m := range c.Mounts {
			if m.Type == mountVolume && m.Name == name {
				ids = append(ids, c.ID)
				break
			}
		}
	}
	sort.Strings(ids)
	return ids
}

// handleVolumeCreate serves POST /volumes/create.
func (b *Backend) handleVolumeCreate(c *gin.Context) {
	var req volume.CreateOptions
	if err := json.NewDecoder(c.Request.Body).Decode(&req); err != nil && err != io.EOF {
		writeError(c, badRequest("invalid JSON: %s", err))
		return
	}
	if err := checkVolumeDriver(req.Driver, req.DriverOpts); err != nil {
		writeError(c, err)
		return
	}
	vol, created, err := b.ensureVolume(req.Name, req.Labels)
	if err != nil {
		writeError(c, err)
		return
	}
	if created {
		b.volumeEvent(vol, events.ActionCreate)
	}
	writeJSON(c, http.StatusCreated, b.volumeInfo(vol))
}

// checkVolumeDriver accepts the default driver only: volumes here are
// directories on EFS, and the local driver's options (type, device, o) name
// host mounts a function cannot make.
func checkVolumeDriver(driver string, opts map[string]string) error {
	if driver != "" && driver != "local" {
		return notFound("error looking up volume plugin %s: plugin %q not found: volumes on Lambda are directories on EFS, through the default driver", driver, driver)
	}
	if len(opts) > 0 {
		return badRequest("volume driver options are not supported: volumes on Lambda are directories on EFS, not host mounts")
	}
	return nil
}

func (b *Backend) handleVolumeInspect(c *gin.Context) {
	vol, ok := b.volumes.get(c.Param("name"))
	if !ok {
		writeError(c, notFound("get %s: no such volume", c.Param("name")))
		return
	}
	writeJSON(c, http.StatusOK, b.volumeInfo(vol))
}

// handleVolumeList serves GET /volumes with the name, label, dangling and
// driver filters.
func (b *Backend) handleVolumeList(c *gin.Context) {
	args, err := filters.FromJSON(c.Query("filters"))
	if err == nil {
		err = args.Validate(map[string]bool{"name": true, "label": true, "dangling": true, "driver": true})
	}
	if err != nil {
		writeError(c, badRequest("%s", err))
		return
	}
	out := []*volume.Volume{}
	for _, vol := range b.sortedVolumes() {
		if matchVolume(args, vol, len(b.usersOf(vol.Name)) == 0) {
			out = append(out, b.volumeInfo(vol))
		}
	}
	writeJSON(c, http.StatusOK, volume.ListResponse{Volumes: out, Warnings: []string{}})
}

func (b *Backend) sortedVolumes() []*Volume {
	b.volumes.mu.Lock()
	defer b.volumes.mu.Unlock()
	out := make([]*Volume, 0, len(b.volumes.byName))
	for _, vol := range b.volumes.byName {
		out = append(out, vol)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func matchVolume(args filters.Args, vol *Volume, dangling bool) bool {
	if args.Contains("name") {
		ok := false
		for _, n := range args.Get("name") {
			ok = ok || strings.Contains(vol.Name, n)
		}
		if !ok {
			return false
		}
	}
	if args.Contains("driver") && !args.ExactMatch("driver", "local") {
		return false
	}
	if args.Contains("dangling") {
		want := args.ExactMatch("dangling", "true") || args.ExactMatch("dangling", "1")
		if want != dangling {
			return false
		}
	}
	return args.MatchKVList("label", vol.Labels)
}

// handleVolumeDelete serves DELETE /volumes/{name}.
func (b *Backend) handleVolumeDelete(c *gin.Context) {
	name := c.Param("name")
	if _, ok := b.volumes.get(name); !ok {
		if boolQuery(c, "force") {
			c.Status(http.StatusNoContent)
			return
		}
		writeError(c, notFound("get %s: no such volume", name))
		return
	}
	if err := b.removeVolume(name); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// removeVolume forgets a volume no container uses. Its directory on EFS is
// deleted by the next function that mounts the access point (see purge).
func (b *Backend) removeVolume(name string) error {
	b.volumes.use.Lock()
	defer b.volumes.use.Unlock()
	if users := b.usersOf(name); len(users) > 0 {
		return conflict("remove %s: volume is in use - [%s]", name, strings.Join(users, ", "))
	}
	b.volumes.mu.Lock()
	vol, ok := b.volumes.byName[name]
	delete(b.volumes.byName, name)
	if ok {
		b.volumes.purge[efsMountPath+"/"+vol.Dir] = true
	}
	b.volumes.mu.Unlock()
	if !ok {
		return notFound("get %s: no such volume", name)
	}
	b.journal.record(volumeJournalStream, volumeEntry{Kind: "delete", Name: name, Dir: vol.Dir})
	b.volumeEvent(vol, events.ActionDestroy)
	return nil
}

// removeAnonymousVolumes removes the container's anonymous volumes, as
// `docker run --rm` and `docker rm -v` do; a volume another container uses
// stays.
func (b *Backend) removeAnonymousVolumes(ctr *Container) {
	for _, m := range ctr.Mounts {
		if m.Type != mountVolume {
			continue
		}
		if vol, ok := b.volumes.get(m.Name); ok {
			if _, anon := vol.Labels[anonymousLabel]; anon && len(b.usersOf(m.Name)) == 0 {
				_ = b.removeVolume(m.Name)
			}
		}
	}
}

// handleVolumePrune serves POST /volumes/prune: unused anonymous volumes, or
// with all=true every unused volume (API 1.42 and later), and label filters.
func (b *Backend) handleVolumePrune(c *gin.Context) {
	args, err := filters.FromJSON(c.Query("filters"))
	if err == nil {
		err = args.Validate(map[string]bool{"label": true, "label!": true, "all": true})
	}
	if err != nil {
		writeError(c, badRequest("%s", err))
		return
	}
	all := args.ExactMatch("all", "true") || args.ExactMatch("all", "1")
	if !apiVersionAtLeast(c, "1.42") {
		all = true // before 1.42, prune took every unused volume
	}
	report := volume.PruneReport{VolumesDeleted: []string{}}
	for _, vol := range b.sortedVolumes() {
		if _, anon := vol.Labels[anonymousLabel]; !anon && !all {
			continue
		}
		if !args.MatchKVList("label", vol.Labels) || (args.Contains("label!") && args.MatchKVList("label!", vol.Labels)) {
			continue
		}
		if b.removeVolume(vol.Name) == nil {
			report.VolumesDeleted = append(report.VolumesDeleted, vol.Name)
		}
	}
	writeJSON(c, http.StatusOK, report)
}

func (b *Backend) volumeEvent(vol *Volume, action events.Action) {
	b.publish(events.VolumeEventType, action, vol.Name, map[string]string{"driver": "local"})
}

// The volumes are journaled beside the containers, so that they survive a
// backend restart.
const volumeJournalStream = "sockerless/volumes"

type volumeEntry struct {
	Kind   string   `json:"kind"` // "create", "delete" or "purged"
	Volume *Volume  `json:"volume,omitempty"`
	Name   string   `json:"name,omitempty"` // delete
	Dir    string   `json:"dir,omitempty"`  // delete: the directory to purge
	Dirs   []string `json:"dirs,omitempty"` // purged: full paths in functions
}

// recoverVolumes replays the volume journal.
func (b *Backend) recoverVolumes(ctx context.Context) error {
	return readEntries(ctx, b.journal, volumeJournalStream, func(e volumeEntry) {
		b.volumes.mu.Lock()
		defer b.volumes.mu.Unlock()
		switch {
		case e.Kind == "create" && e.Volume != nil:
			b.volumes.byName[e.Volume.Name] = e.Volume
		case e.Kind == "delete":
			// Only the volume the entry removed: one made again under the
			// same name has another directory.
			if vol, ok := b.volumes.byName[e.Name]; ok && (e.Dir == "" || vol.Dir == e.Dir) {
				delete(b.volumes.byName, e.Name)
			}
			if e.Dir != "" {
				b.volumes.purge[efsMountPath+"/"+e.Dir] = true
			}
		case e.Kind == "purged":
			for _, d := range e.Dirs {
				delete(b.volumes.purge, d)
			}
		}
	})
}
