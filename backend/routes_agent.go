package backend

import "github.com/gin-gonic/gin"

// agentRoutes registers the endpoints served over the agent's connection:
// exec, archive (docker cp), top, pause and unpause, resize.
func (b *Backend) agentRoutes(r gin.IRoutes) {
	r.POST("/containers/:id/exec", b.handleExecCreate)
	r.POST("/exec/:id/start", b.handleExecStart)
	r.GET("/exec/:id/json", b.handleExecInspect)
	r.POST("/exec/:id/resize", b.handleExecResize)

	r.HEAD("/containers/:id/archive", b.handleArchiveHead)
	r.GET("/containers/:id/archive", b.handleArchiveGet)
	r.PUT("/containers/:id/archive", b.handleArchivePut)

	r.GET("/containers/:id/top", b.handleContainerTop)
	r.GET("/containers/:id/stats", b.handleContainerStats)
	r.POST("/containers/:id/pause", b.handleContainerPause(true))
	r.POST("/containers/:id/unpause", b.handleContainerPause(false))
	r.POST("/containers/:id/resize", b.handleContainerResize)
}
