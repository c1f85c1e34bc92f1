package backend

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"runtime"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/api/types/volume"
	"github.com/gin-gonic/gin"
)

// handlePing serves GET and HEAD /_ping.
func (b *Backend) handlePing(c *gin.Context) {
	c.Header("Cache-Control", "no-cache, no-store, must-revalidate")
	c.Header("Pragma", "no-cache")
	c.Header("Swarm", "inactive")
	c.Header("Content-Type", "text/plain; charset=utf-8")
	if c.Request.Method == http.MethodHead {
		c.Header("Content-Length", "0")
		c.Status(http.StatusOK)
		return
	}
	c.Status(http.StatusOK)
	_, _ = io.WriteString(c.Writer, "OK")
}

// lambdaArch is Lambda's architecture in Docker's words.
func (b *Backend) lambdaArch() string {
	if b.cfg.Architecture == "arm64" {
		return "aarch64"
	}
	return "x86_64"
}

// handleVersion serves GET /version.
func (b *Backend) handleVersion(c *gin.Context) {
	arch := "amd64"
	if b.cfg.Architecture == "arm64" {
		arch = "arm64"
	}
	details := map[string]string{
		"ApiVersion": APIVersion, "MinAPIVersion": MinAPIVersion, "GoVersion": runtime.Version(),
		"Os": "linux", "Arch": arch, "KernelVersion": "lambda", "Experimental": "false",
	}
	writeJSON(c, http.StatusOK, types.Version{
		Platform:   struct{ Name string }{Name: "sockerless-backend-lambda"},
		Components: []types.ComponentVersion{{Name: "Engine", Version: Version, Details: details}},
		Version:    Version, APIVersion: APIVersion, MinAPIVersion: MinAPIVersion,
		GoVersion: runtime.Version(), Os: "linux", Arch: arch, KernelVersion: "lambda",
	})
}

// handleInfo serves GET /info with real counts.
func (b *Backend) handleInfo(c *gin.Context) {
	var running, paused, stopped int
	ctrs := b.store.List()
	for _, ctr := range ctrs {
		switch b.store.Snap(ctr).dockerState() {
		case "paused":
			paused++
		case stateRunning:
			running++
		case stateExited, stateCreated:
			stopped++
		}
	}
	host, _ := os.Hostname()
	info := system.Info{
		ID: "sockerless-lambda-" + b.cfg.Region, Name: host,
		Containers: len(ctrs), ContainersRunning: running, ContainersPaused: paused, ContainersStopped: stopped,
		Images: len(b.store.Images()), Driver: "lambda", LoggingDriver: "awslogs",
		OperatingSystem: "AWS Lambda (" + b.cfg.Region + ")", OSType: "linux", Architecture: b.lambdaArch(),
		KernelVersion: "lambda", NCPU: 6, MemTotal: 10240 << 20,
		ServerVersion: Version, IndexServerAddress: "https://index.docker.io/v1/",
		CgroupDriver: "none", CgroupVersion: "2",
		Labels:   []string{"com.sockerless.backend=lambda", "com.sockerless.region=" + b.cfg.Region},
		Warnings: []string{},
		Swarm:    swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive},
	}
	writeJSON(c, http.StatusOK, info)
}

func writeJSONLine(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }

// handleSystemDF serves GET /system/df from the backend's cache. Volumes are
// on EFS, where only functions reach: their size is unknown (-1).
func (b *Backend) handleSystemDF(c *gin.Context) {
	du := types.DiskUsage{BuildCache: []*build.CacheRecord{}}
	uses := map[string]int64{}
	for _, ctr := range b.store.List() {
		s := summary(ctr, b.store.Snap(ctr))
		du.Containers = append(du.Containers, &s)
		uses[ctr.Image.ID]++
	}
	for _, img := range b.store.Images() {
		du.LayersSize += img.Size
		s := imageSummary(img, img.RepoTags, img.RepoDigests, uses[img.ID])
		du.Images = append(du.Images, &s)
	}
	for _, vol := range b.sortedVolumes() {
		v := b.volumeInfo(vol)
		v.UsageData = &volume.UsageData{Size: -1, RefCount: int64(len(b.usersOf(vol.Name)))}
		du.Volumes = append(du.Volumes, v)
	}
	writeJSON(c, http.StatusOK, du)
}
