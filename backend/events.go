package backend

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/gin-gonic/gin"
)

// eventBus keeps recent events for `docker events --since` and fans new ones
// out to the streams following them.
type eventBus struct {
	mu      sync.Mutex
	history []events.Message
	subs    map[chan events.Message]struct{}
}

const eventHistory = 1024

func (e *eventBus) publish(m events.Message) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.history = append(e.history, m)
	if len(e.history) > eventHistory {
		e.history = e.history[len(e.history)-eventHistory:]
	}
	for ch := range e.subs {
		select {
		case ch <- m:
		default:
			// A follower too slow to take 256 events is cut off rather
			// than allowed to stall the daemon; it sees its stream end.
			delete(e.subs, ch)
			close(ch)
		}
	}
}

// subscribe returns the past events and a channel of the new ones.
func (e *eventBus) subscribe() ([]events.Message, chan events.Message) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.subs == nil {
		e.subs = map[chan events.Message]struct{}{}
	}
	ch := make(chan events.Message, 256)
	e.subs[ch] = struct{}{}
	return append([]events.Message(nil), e.history...), ch
}

func (e *eventBus) unsubscribe(ch chan events.Message) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.subs[ch]; ok {
		delete(e.subs, ch)
		close(ch)
	}
}

// containerEvent publishes an event about c with Docker's attributes: image,
// name, the labels, and extra.
func (b *Backend) containerEvent(c *Container, action events.Action, extra map[string]string) {
	attrs := map[string]string{}
	for k, v := range c.Config.Labels {
		attrs[k] = v
	}
	attrs["image"] = c.Config.Image
	attrs["name"] = strings.TrimPrefix(b.store.Snap(c).Name, "/")
	for k, v := range extra {
		attrs[k] = v
	}
	b.publish(events.ContainerEventType, action, c.ID, attrs)
}

func (b *Backend) publish(typ events.Type, action events.Action, id string, attrs map[string]string) {
	now := time.Now()
	b.events.publish(events.Message{
		Type: typ, Action: action, Actor: events.Actor{ID: id, Attributes: attrs},
		Scope: "local", Time: now.Unix(), TimeNano: now.UnixNano(),
	})
}

var eventFilters = map[string]bool{
	"container": true, "event": true, "image": true, "label": true, "type": true, "volume": true,
	"network": true, "daemon": true, "plugin": true, "node": true, "service": true, "secret": true,
	"config": true, "scope": true,
}

// handleEvents serves GET /events: the past events in [since, until], then,
// unless until has passed, the new ones as they happen.
func (b *Backend) handleEvents(c *gin.Context) {
	args, err := filters.FromJSON(c.Query("filters"))
	if err != nil {
		writeError(c, badRequest("%s", err))
		return
	}
	if err := args.Validate(eventFilters); err != nil {
		writeError(c, badRequest("%s", err))
		return
	}
	since, err := parseDockerTime(c.Query("since"))
	if err != nil {
		writeError(c, badRequest("invalid value for since: %s", err))
		return
	}
	until, err := parseDockerTime(c.Query("until"))
	if err != nil {
		writeError(c, badRequest("invalid value for until: %s", err))
		return
	}
	if !since.IsZero() && !until.IsZero() && since.After(until) {
		writeError(c, badRequest("`since` time (%s) cannot be after `until` time (%s)", c.Query("since"), c.Query("until")))
		return
	}
	past, ch := b.events.subscribe()
	defer b.events.unsubscribe(ch)

	c.Header("Content-Type", "application/json")
	c.Status(http.StatusOK)
	c.Writer.Flush()
	enc := json.NewEncoder(c.Writer)
	inWindow := func(m events.Message) bool {
		t := time.Unix(0, m.TimeNano)
		return (since.IsZero() || !t.Before(since)) && (until.IsZero() || !t.After(until))
	}
	for _, m := range past {
		if !since.IsZero() && inWindow(m) && matchEvent(m, args) {
			if enc.Encode(legacyEventFields(m)) != nil {
				return
			}
		}
	}
	c.Writer.Flush()
	var deadline <-chan time.Time
	if !until.IsZero() {
		if d := time.Until(until); d <= 0 {
			return
		} else {
			deadline = time.After(d)
		}
	}
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				return
			}
			if inWindow(m) && matchEvent(m, args) {
				if enc.Encode(legacyEventFields(m)) != nil {
					return
				}
				c.Writer.Flush()
			}
		case <-deadline:
			return
		case <-c.Request.Context().Done():
			return
		}
	}
}

// legacyEventFields fills the deprecated status/id/from fields Docker still
// sends for containers and images, which older clients read.
func legacyEventFields(m events.Message) events.Message {
	if m.Type == events.ContainerEventType || m.Type == events.ImageEventType {
		m.Status = string(m.Action)
		m.ID = m.Actor.ID
		m.From = m.Actor.Attributes["image"]
	}
	return m
}

func matchEvent(m events.Message, args filters.Args) bool {
	action := string(m.Action)
	if i := strings.Index(action, ":"); i >= 0 {
		action = action[:i] // "exec_start: sh" matches "exec_start"
	}
	if args.Contains("event") && !args.ExactMatch("event", action) && !args.ExactMatch("event", string(m.Action)) {
		return false
	}
	if args.Contains("type") && !args.ExactMatch("type", string(m.Type)) {
		return false
	}
	if args.Contains("scope") && !args.ExactMatch("scope", m.Scope) {
		return false
	}
	if args.Contains("label") && !args.MatchKVList("label", m.Actor.Attributes) {
		return false
	}
	name := m.Actor.Attributes["name"]
	matchActor := func(key string, typ events.Type, alts ...string) bool {
		if !args.Contains(key) {
			return true
		}
		if m.Type != typ {
			return false
		}
		for _, v := range append([]string{m.Actor.ID}, alts...) {
			if v != "" && (args.ExactMatch(key, v) || args.FuzzyMatch(key, v)) {
				return true
			}
		}
		return false
	}
	if !matchActor("container", events.ContainerEventType, name) {
		return false
	}
	if !matchActor("network", events.NetworkEventType, name) {
		return false
	}
	if !matchActor("volume", events.VolumeEventType) {
		return false
	}
	if args.Contains("image") {
		img := m.Actor.Attributes["image"]
		if m.Type == events.ImageEventType {
			img = m.Actor.ID
		}
		if !args.ExactMatch("image", img) && !args.ExactMatch("image", strings.Split(img, ":")[0]) && !args.ExactMatch("image", m.Actor.Attributes["name"]) {
			return false
		}
	}
	return true
}
