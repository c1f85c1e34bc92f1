package backend

import (
	"github.com/gin-gonic/gin"
)

// unsupportedRoutes answer 501 with why, for endpoints Docker has and Lambda
// cannot serve. Everything else unknown stays a 404 "page not found", which
// `docker inspect` needs to move on to the next kind of object.
func (b *Backend) unsupportedRoutes(r gin.IRoutes) {
	say := func(msg string) gin.HandlerFunc {
		return func(c *gin.Context) { writeError(c, notImplemented("%s", msg)) }
	}
	r.POST("/build", say("docker build is not supported: the backend has no image builder; build with a local Docker or a CI builder and push to ECR (or docker load)"))
	r.POST("/build/prune", say("there is no build cache: the backend does not build images"))
	r.POST("/commit", say("docker commit is not supported: a Lambda function's filesystem is read-only apart from /tmp, and cannot be captured as an image"))
	r.GET("/containers/:id/export", say("docker export is not supported: a Lambda function's filesystem cannot be exported"))
	r.GET("/containers/:id/changes", say("docker diff is not supported: Lambda does not expose the changes to a function's filesystem"))
	r.POST("/session", say("BuildKit sessions are not supported: the backend does not build images"))
	for _, p := range []string{"/swarm", "/swarm/init", "/swarm/join", "/swarm/leave", "/services", "/services/create", "/nodes", "/tasks", "/secrets", "/secrets/create", "/configs", "/configs/create"} {
		r.Any(p, say("swarm mode is not supported: containers run as Lambda functions, not on swarm nodes"))
	}
}
