package backend

import (
	"net/http"
	"strings"

	"github.com/docker/docker/api/types/events"
	"github.com/gin-gonic/gin"
)

// handleContainerRename serves POST /containers/{id}/rename: the name
// changes in the backend and in the container's journal; the function keeps
// its name, which is derived from the container ID.
func (b *Backend) handleContainerRename(c *gin.Context) {
	ctr, err := b.store.Lookup(c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	name := c.Query("name")
	if name == "" || !containerNameRE.MatchString(name) {
		writeError(c, badRequest("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name))
		return
	}
	name = "/" + strings.TrimPrefix(name, "/")
	old, err := b.store.Rename(ctr, name)
	if err != nil {
		writeError(c, err)
		return
	}
	if old == name {
		c.Status(http.StatusNoContent)
		return
	}
	b.journal.append(ctr, journalEntry{Kind: entryRename, Name: name})
	b.containerEvent(ctr, events.ActionRename, map[string]string{"oldName": old})
	c.Status(http.StatusNoContent)
}
