package backend

import (
	"net/http"

	"github.com/docker/docker/api/types/volume"
	"github.com/gin-gonic/gin"
)

// Named volumes need real storage that every function can mount: EFS access
// points through FileSystemConfigs. Until that is configured, a volume is a
// clear error, never a silent empty directory.
const noVolumesMessage = "named volumes are not available: on Lambda they need EFS (access points mounted through the function's FileSystemConfigs), which this backend does not support yet"

func (b *Backend) handleVolumeList(c *gin.Context) {
	writeJSON(c, http.StatusOK, volume.ListResponse{Volumes: []*volume.Volume{}, Warnings: []string{}})
}

func (b *Backend) handleVolumeCreate(c *gin.Context) {
	writeError(c, notImplemented("%s", noVolumesMessage))
}

func (b *Backend) handleVolumeInspect(c *gin.Context) {
	writeError(c, notFound("get %s: no such volume", c.Param("name")))
}

func (b *Backend) handleVolumePrune(c *gin.Context) {
	writeJSON(c, http.StatusOK, volume.PruneReport{VolumesDeleted: []string{}})
}
