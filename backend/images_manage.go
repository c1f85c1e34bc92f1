package backend

import (
	"net/http"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/gin-gonic/gin"
)

// Image names contain slashes, so each method has one catch-all route that
// dispatches on the path: /images/create, /images/{name}/tag, ...
func (b *Backend) imageGET(c *gin.Context) {
	path := c.Param("name")
	switch {
	case path == "/json":
		b.handleImageList(c)
	case strings.HasSuffix(path, "/history"):
		b.handleImageHistory(c, strings.TrimSuffix(path[1:], "/history"))
	case strings.HasSuffix(path, "/get") || path == "/get":
		writeError(c, notImplemented("docker save is not supported: images live in ECR; pull them from there"))
	case strings.HasSuffix(path, "/json"):
		b.handleImageInspect(c)
	default:
		writeError(c, notFound("page not found"))
	}
}

func (b *Backend) imagePOST(c *gin.Context) {
	path := c.Param("name")
	switch {
	case path == "/create":
		b.handleImageCreate(c)
	case path == "/load":
		b.handleImageLoad(c)
	case path == "/prune":
		b.handleImagePrune(c)
	case strings.HasSuffix(path, "/tag"):
		b.handleImageTag(c, strings.TrimSuffix(path[1:], "/tag"))
	case strings.HasSuffix(path, "/push"):
		b.handleImagePush(c, strings.TrimSuffix(path[1:], "/push"))
	default:
		writeError(c, notFound("page not found"))
	}
}

// handleImageTag serves POST /images/{name}/tag?repo=&tag=.
func (b *Backend) handleImageTag(c *gin.Context, name string) {
	img, ok := b.store.LookupImage(name)
	if !ok {
		writeError(c, errNoSuchImage(name))
		return
	}
	target := c.Query("repo")
	if tag := c.Query("tag"); tag != "" {
		target += ":" + tag
	}
	named, err := normalizeImageRef(target)
	if err != nil {
		writeError(c, err)
		return
	}
	if _, ok := named.(reference.Digested); ok {
		writeError(c, badRequest("refusing to create a tag with a digest reference"))
		return
	}
	tag := familiarString(named)
	b.store.TagImage(img, tag)
	b.journalImage(imageEntry{Kind: "tag", ID: img.ID, Ref: tag})
	b.publish(events.ImageEventType, events.ActionTag, img.ID, map[string]string{"name": tag})
	c.Status(http.StatusCreated)
}

// handleImageDelete serves DELETE /images/{name}: the name is taken off; the
// image is forgotten when it has no name left and no container uses it.
// The content stays in ECR, which other users and derived images may share.
func (b *Backend) handleImageDelete(c *gin.Context) {
	ref := strings.TrimPrefix(c.Param("name"), "/")
	img, ok := b.store.LookupImage(ref)
	if !ok {
		writeError(c, errNoSuchImage(ref))
		return
	}
	force := boolQuery(c, "force")
	out := []image.DeleteResponse{}
	byID := strings.HasPrefix(img.ID, ref) || strings.HasPrefix(img.ID, "sha256:"+ref)
	if !byID {
		named, err := normalizeImageRef(ref)
		if err != nil {
			writeError(c, err)
			return
		}
		tag := familiarString(named)
		if users := b.store.ImageUsers(img.ID); len(users) > 0 && len(img.RepoTags) <= 1 && !force {
			writeError(c, conflict("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", ref, users[0].ID[:12], strings.TrimPrefix(img.ID, "sha256:")[:12]))
			return
		}
		b.store.UntagImage(img, tag)
		b.journalImage(imageEntry{Kind: "untag", ID: img.ID, Ref: tag})
		b.publish(events.ImageEventType, events.ActionUnTag, img.ID, map[string]string{"name": tag})
		out = append(out, image.DeleteResponse{Untagged: tag})
		if len(img.RepoTags) > 0 {
			writeJSON(c, http.StatusOK, out)
			return
		}
	} else if len(img.RepoTags) > 1 && !force {
		writeError(c, conflict("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", strings.TrimPrefix(img.ID, "sha256:")[:12]))
		return
	}
	if users := b.store.ImageUsers(img.ID); len(users) > 0 {
		if byID {
			writeError(c, conflict("conflict: unable to delete %s (must be forced) - image is being used by stopped container %s", strings.TrimPrefix(img.ID, "sha256:")[:12], users[0].ID[:12]))
			return
		}
		writeJSON(c, http.StatusOK, out) // untagged; the containers keep the image
		return
	}
	for _, t := range img.RepoTags {
		out = append(out, image.DeleteResponse{Untagged: t})
	}
	b.store.DeleteImage(img.ID)
	b.journalImage(imageEntry{Kind: "delete", ID: img.ID})
	b.publish(events.ImageEventType, events.ActionDelete, img.ID, map[string]string{"name": ref})
	out = append(out, image.DeleteResponse{Deleted: img.ID})
	writeJSON(c, http.StatusOK, out)
}

// handleImageHistory serves GET /images/{name}/history from the image config.
func (b *Backend) handleImageHistory(c *gin.Context, name string) {
	img, ok := b.store.LookupImage(name)
	if !ok {
		writeError(c, errNoSuchImage(name))
		return
	}
	out := []image.HistoryResponseItem{}
	h := img.Config.History
	for i := len(h) - 1; i >= 0; i-- {
		item := image.HistoryResponseItem{
			ID: "<missing>", Created: h[i].Created.Unix(), CreatedBy: h[i].CreatedBy,
			Comment: h[i].Comment, Tags: []string{},
		}
		if i == len(h)-1 {
			item.ID, item.Tags, item.Size = img.ID, nonNil(img.RepoTags), img.Size
		}
		out = append(out, item)
	}
	writeJSON(c, http.StatusOK, out)
}

// handleImagePrune serves POST /images/prune: images without a name that no
// container uses (with dangling=false, every image no container uses).
func (b *Backend) handleImagePrune(c *gin.Context) {
	args, err := filters.FromJSON(c.Query("filters"))
	if err == nil {
		err = args.Validate(map[string]bool{"dangling": true, "until": true, "label": true, "label!": true})
	}
	if err != nil {
		writeError(c, badRequest("%s", err))
		return
	}
	danglingOnly := !args.ExactMatch("dangling", "false") && !args.ExactMatch("dangling", "0")
	report := image.PruneReport{ImagesDeleted: []image.DeleteResponse{}}
	for _, img := range b.store.Images() {
		if (danglingOnly && len(img.RepoTags) > 0) || len(b.store.ImageUsers(img.ID)) > 0 {
			continue
		}
		if args.Contains("label") && !args.MatchKVList("label", img.Config.Config.Labels) {
			continue
		}
		for _, t := range img.RepoTags {
			report.ImagesDeleted = append(report.ImagesDeleted, image.DeleteResponse{Untagged: t})
		}
		b.store.DeleteImage(img.ID)
		b.journalImage(imageEntry{Kind: "delete", ID: img.ID})
		report.ImagesDeleted = append(report.ImagesDeleted, image.DeleteResponse{Deleted: img.ID})
	}
	writeJSON(c, http.StatusOK, report)
}
