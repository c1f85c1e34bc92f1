package backend

import (
	"context"
)

// The images the backend knows live in ECR; which names point at which image
// is kept in a journal stream beside the containers', so that `docker images`
// survives a backend restart.
const imageJournalStream = "sockerless/images"

// imageEntry is one change to the image list.
type imageEntry struct {
	Kind  string `json:"kind"` // "image" (pulled or loaded), "tag", "untag", "delete"
	Image *Image `json:"image,omitempty"`
	ID    string `json:"id,omitempty"`
	Ref   string `json:"ref,omitempty"`
}

// journalImage records a change to the image list.
func (b *Backend) journalImage(e imageEntry) { b.journal.record(imageJournalStream, e) }

// recoverImages replays the image journal.
func (b *Backend) recoverImages(ctx context.Context) error {
	return readEntries(ctx, b.journal, imageJournalStream, func(e imageEntry) {
		switch e.Kind {
		case "image":
			if e.Image != nil {
				b.store.PutImage(e.Image)
			}
		case "tag":
			if img, ok := b.store.LookupImage(e.ID); ok {
				b.store.TagImage(img, e.Ref)
			}
		case "untag":
			if img, ok := b.store.LookupImage(e.ID); ok {
				b.store.UntagImage(img, e.Ref)
			}
		case "delete":
			b.store.DeleteImage(e.ID)
		}
	})
}
