package backend

import (
	"crypto/rand"
	"encoding/hex"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Container states, as Docker names them.
const (
	stateCreated  = "created"
	stateRunning  = "running"
	stateExited   = "exited"
	stateRemoving = "removing"
)

// Container is one Docker container, backed by one Lambda function. Its
// identity (ID, name, function) is also in the function's tags.
type Container struct {
	ID      string
	Created time.Time

	Config           *container.Config
	HostConfig       *container.HostConfig
	NetworkingConfig *network.NetworkingConfig
	Image            *Image // the image it was created from
	Path             string // argv[0] and the rest, resolved from image and request
	Args             []string
	Mounts           []mountSpec // volumes and tmpfs, resolved at create

	hub   hub        // live output to attached clients
	stdin *stdinPipe // the attached client's stdin, when OpenStdin

	FunctionName string
	FunctionARN  string
	LogGroup     string

	// Guarded by Store.mu.
	name         string // with the leading "/"
	status       string
	pid          int
	exitCode     int
	paused       bool              // by docker pause: the run's processes are stopped
	health       *container.Health // nil without a health check
	manualStop   bool              // by docker stop or kill: no restart by policy
	restarting   bool              // exited, and the restart policy's start is due
	restartDelay time.Duration     // the restart policy's current backoff
	errMsg       string
	startedAt    time.Time
	finishedAt   time.Time
	restarts     int
	logStreams   []string
	networks     map[string]*network.EndpointSettings // by network name
	run          *run                                 // the current or last run; nil before the first start
	changed      chan struct{}                        // closed and replaced on every state change
	exits        int                                  // how many times the container has exited
	removed      bool
}

// Store is the backend's cache of containers and images. AWS is the source of
// truth; the store answers `docker ps` without calling AWS per container.
type Store struct {
	mu         sync.Mutex
	containers map[string]*Container // by ID
	names      map[string]string     // "/name" → ID
	images     map[string]*Image     // by image ID ("sha256:...")
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{
		containers: map[string]*Container{},
		names:      map[string]string{},
		images:     map[string]*Image{},
	}
}

// newID returns a 64-hex ID, as Docker's.
func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Lookup finds a container by full ID, name (with or without "/") or unique ID
// prefix, the ways Docker clients refer to containers.
func (s *Store) Lookup(ref string) (*Container, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookupLocked(ref)
}

func (s *Store) lookupLocked(ref string) (*Container, error) {
	if ref == "" {
		return nil, errNoSuchContainer(ref)
	}
	if c, ok := s.containers[ref]; ok {
		return c, nil
	}
	if id, ok := s.names["/"+strings.TrimPrefix(ref, "/")]; ok {
		return s.containers[id], nil
	}
	var found *Container
	for id, c := range s.containers {
		if strings.HasPrefix(id, ref) {
			if found != nil {
				return nil, badRequest("multiple IDs found with provided prefix: %s", ref)
			}
			found = c
		}
	}
	if found == nil {
		return nil, errNoSuchContainer(ref)
	}
	return found, nil
}

// Reserve records a new container under name, or fails with Docker's name
// conflict.
func (s *Store) Reserve(c *Container, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := s.names[name]; ok {
		return conflict("Conflict. The container name %q is already in use by container %q. You have to remove (or rename) that container to be able to reuse that name.", name, id)
	}
	c.name = name
	if c.status == "" {
		c.status = stateCreated
	}
	c.changed = make(chan struct{})
	s.containers[c.ID] = c
	s.names[name] = c.ID
	return nil
}

// NameInUse reports whether a container has the name.
func (s *Store) NameInUse(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.names[name]
	return ok
}

// Remove forgets the container and wakes those waiting for its removal.
func (s *Store) Remove(c *Container) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.containers, c.ID)
	if s.names[c.name] == c.ID {
		delete(s.names, c.name)
	}
	c.removed = true
	s.notifyLocked(c)
}

// List returns the containers, newest first.
func (s *Store) List() []*Container {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Container, 0, len(s.containers))
	for _, c := range s.containers {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

// notifyLocked wakes every waiter on c's state.
func (s *Store) notifyLocked(c *Container) {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Update changes c's state under the store's lock and wakes its waiters.
func (s *Store) Update(c *Container, fn func(c *Container)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(c)
	s.notifyLocked(c)
}

// Snapshot is a consistent copy of a container's mutable state.
type Snapshot struct {
	Name       string
	Status     string
	Pid        int
	ExitCode   int
	Error      string
	StartedAt  time.Time
	FinishedAt time.Time
	Restarts   int
	LogStreams []string
	Networks   map[string]*network.EndpointSettings
	Paused     bool
	Exits      int
	Removed    bool
	Changed    <-chan struct{}
	Run        *run
	Health     *container.Health     // a copy; nil without a health check
	HostConfig *container.HostConfig // replaced, never changed, by an update
	Restarting bool                  // exited, waiting for the restart policy's start
}

// Snap reads c's state.
func (s *Store) Snap(c *Container) Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Snapshot{
		Name: c.name, Status: c.status, Pid: c.pid, ExitCode: c.exitCode, Error: c.errMsg,
		StartedAt: c.startedAt, FinishedAt: c.finishedAt, Restarts: c.restarts,
		LogStreams: append([]string(nil), c.logStreams...), Exits: c.exits, Removed: c.removed,
		Networks: c.networkSettings(), Paused: c.paused,
		Changed: c.changed, Run: c.run, Health: c.healthCopy(), HostConfig: c.HostConfig,
		Restarting: c.restarting && c.status == stateExited && !c.manualStop,
	}
}

func (c *Container) healthCopy() *container.Health {
	if c.health == nil {
		return nil
	}
	h := *c.health
	h.Log = append([]*container.HealthcheckResult{}, h.Log...)
	return &h
}

// Image is an image known to the backend: its content lives in ECR.
type Image struct {
	ID          string   // "sha256:<config digest>", Docker's image ID
	RepoTags    []string // familiar names, e.g. "busybox:latest"
	RepoDigests []string // e.g. "busybox@sha256:..."
	// ECRRef is the image in ECR by manifest digest, e.g.
	// "123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub/library/busybox@sha256:...".
	ECRRef  string
	Digest  string // manifest digest
	Config  *v1.ConfigFile
	Size    int64
	Created time.Time
}

// PutImage records an image, moving its tags off any other image.
func (s *Store) PutImage(img *Image) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, other := range s.images {
		if other.ID == img.ID {
			continue
		}
		other.RepoTags = removeAll(other.RepoTags, img.RepoTags)
	}
	if old, ok := s.images[img.ID]; ok {
		for _, t := range img.RepoTags {
			if !contains(old.RepoTags, t) {
				old.RepoTags = append(old.RepoTags, t)
			}
		}
		for _, d := range img.RepoDigests {
			if !contains(old.RepoDigests, d) {
				old.RepoDigests = append(old.RepoDigests, d)
			}
		}
		return
	}
	s.images[img.ID] = img
}

// LookupImage finds an image by familiar or full name with tag, by ID or by
// unique ID prefix.
func (s *Store) LookupImage(ref string) (*Image, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if img, ok := s.images[ref]; ok {
		return img, true
	}
	if named, err := normalizeImageRef(ref); err == nil {
		want := familiarString(named)
		for _, img := range s.images {
			if contains(img.RepoTags, want) || contains(img.RepoDigests, want) {
				return img, true
			}
		}
	}
	id := strings.TrimPrefix(ref, "sha256:")
	if len(id) >= 4 && isHex(id) {
		var found *Image
		for key, img := range s.images {
			if strings.HasPrefix(strings.TrimPrefix(key, "sha256:"), id) {
				if found != nil {
					return nil, false
				}
				found = img
			}
		}
		return found, found != nil
	}
	return nil, false
}

// Images lists the known images.
func (s *Store) Images() []*Image {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Image, 0, len(s.images))
	for _, img := range s.images {
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func removeAll(list, drop []string) []string {
	out := list[:0]
	for _, v := range list {
		if !contains(drop, v) {
			out = append(out, v)
		}
	}
	return out
}

func isHex(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// networkSettings is a copy of c's networks, with the default bridge when it
// is on no other network, as Docker shows it. Called under the store's lock.
func (c *Container) networkSettings() map[string]*network.EndpointSettings {
	out := map[string]*network.EndpointSettings{}
	for k, v := range c.networks {
		cp := *v
		out[k] = &cp
	}
	if len(out) == 0 {
		out["bridge"] = &network.EndpointSettings{}
	}
	return out
}

// Rename gives c a new name, unless another container has it. It returns the
// old name.
func (s *Store) Rename(c *Container, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := c.name
	if old == name {
		return old, nil
	}
	if id, ok := s.names[name]; ok {
		return old, conflict("Error when allocating new name: Conflict. The container name %q is already in use by container %q. You have to remove (or rename) that container to be able to reuse that name.", name, id)
	}
	delete(s.names, old)
	s.names[name] = c.ID
	c.name = name
	s.notifyLocked(c)
	return old, nil
}

// TagImage gives img the familiar name tag, taking it off any other image.
func (s *Store) TagImage(img *Image, tag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, other := range s.images {
		other.RepoTags = removeAll(other.RepoTags, []string{tag})
	}
	img.RepoTags = append(img.RepoTags, tag)
}

// UntagImage takes the familiar name tag off img.
func (s *Store) UntagImage(img *Image, tag string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	img.RepoTags = removeAll(img.RepoTags, []string{tag})
}

// DeleteImage forgets an image.
func (s *Store) DeleteImage(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.images, id)
}

// ImageUsers are the containers created from the image.
func (s *Store) ImageUsers(id string) []*Container {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Container
	for _, c := range s.containers {
		if c.Image.ID == id {
			out = append(out, c)
		}
	}
	return out
}

// dockerState is the state Docker shows: "paused" is a running container
// whose processes are stopped.
func (s Snapshot) dockerState() string {
	if s.Status == stateRunning && s.Paused {
		return "paused"
	}
	if s.Status == stateExited && s.Restarting {
		return "restarting"
	}
	return s.Status
}
