package backend

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/gin-gonic/gin"
)

// Networks are accepted and recorded, because docker-compose and CI runners
// create them for every project and must not fail on that, but they carry no
// traffic: Lambda functions cannot reach each other. Creating one says so.
type networks struct {
	mu   sync.Mutex
	byID map[string]*network.Inspect
}

const noTrafficWarning = "Lambda functions accept no inbound connections: containers on this network cannot reach each other; the network is recorded only"

// newNetworks holds the default bridge, whose ID is derived from the log
// group so that it stays the same across restarts.
func newNetworks(logGroup string) *networks {
	n := &networks{byID: map[string]*network.Inspect{}}
	sum := sha256.Sum256([]byte("bridge\x00" + logGroup))
	bridge := &network.Inspect{
		Name: "bridge", ID: hex.EncodeToString(sum[:]), Created: time.Now().UTC(), Scope: "local", Driver: "bridge",
		EnableIPv4: true, IPAM: network.IPAM{Driver: "default", Config: []network.IPAMConfig{}},
		Containers: map[string]network.EndpointResource{}, Options: map[string]string{}, Labels: map[string]string{},
	}
	n.byID[bridge.ID] = bridge
	return n
}

// lookup finds a network by ID, name or unique ID prefix.
func (n *networks) lookup(ref string) (*network.Inspect, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.lookupLocked(ref)
}

func (n *networks) lookupLocked(ref string) (*network.Inspect, error) {
	if nw, ok := n.byID[ref]; ok {
		return nw, nil
	}
	for _, nw := range n.byID {
		if nw.Name == ref {
			return nw, nil
		}
	}
	var found *network.Inspect
	for id, nw := range n.byID {
		if ref != "" && strings.HasPrefix(id, ref) {
			if found != nil {
				return nil, badRequest("network %s is ambiguous", ref)
			}
			found = nw
		}
	}
	if found == nil {
		return nil, notFound("network %s not found", ref)
	}
	return found, nil
}

func (b *Backend) handleNetworkList(c *gin.Context) {
	args, err := filters.FromJSON(c.Query("filters"))
	if err == nil {
		err = args.Validate(map[string]bool{"name": true, "id": true, "label": true, "driver": true, "type": true, "scope": true, "dangling": true})
	}
	if err != nil {
		writeError(c, badRequest("%s", err))
		return
	}
	b.networks.mu.Lock()
	out := []network.Summary{}
	for _, nw := range b.networks.byID {
		if args.Contains("name") && !args.Match("name", nw.Name) {
			continue
		}
		if args.Contains("id") && !args.Match("id", nw.ID) {
			continue
		}
		if args.Contains("driver") && !args.ExactMatch("driver", nw.Driver) {
			continue
		}
		if args.Contains("label") && !args.MatchKVList("label", nw.Labels) {
			continue
		}
		if args.Contains("type") && !args.ExactMatch("type", map[bool]string{true: "builtin", false: "custom"}[nw.Name == "bridge"]) {
			continue
		}
		out = append(out, *nw)
	}
	b.networks.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	writeJSON(c, http.StatusOK, out)
}

func (b *Backend) handleNetworkInspect(c *gin.Context) {
	nw, err := b.networks.lookup(c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	b.networks.mu.Lock()
	out := *nw
	b.networks.mu.Unlock()
	out.Containers = b.activeEndpoints(nw)
	writeJSON(c, http.StatusOK, out)
}

// activeEndpoints are the network's running (or paused) containers: as in
// Docker, a stopped container has no endpoint, though it stays on the network.
func (b *Backend) activeEndpoints(nw *network.Inspect) map[string]network.EndpointResource {
	b.networks.mu.Lock()
	members := make(map[string]network.EndpointResource, len(nw.Containers))
	for id, ep := range nw.Containers {
		members[id] = ep
	}
	b.networks.mu.Unlock()
	out := map[string]network.EndpointResource{}
	for _, c := range b.store.List() {
		if ep, ok := members[c.ID]; ok && b.store.Snap(c).Status == stateRunning {
			out[c.ID] = ep
		}
	}
	return out
}

func (b *Backend) handleNetworkCreate(c *gin.Context) {
	var req network.CreateRequest
	if err := bindJSON(c, &req); err != nil {
		writeError(c, err)
		return
	}
	if req.Name == "" {
		writeError(c, badRequest("network name is required"))
		return
	}
	if req.Driver == "" {
		req.Driver = "bridge"
	}
	if req.Driver != "bridge" {
		writeError(c, notImplemented("network driver %q is not supported on Lambda: only bridge networks are recorded", req.Driver))
		return
	}
	b.networks.mu.Lock()
	if _, err := b.networks.lookupLocked(req.Name); err == nil {
		b.networks.mu.Unlock()
		writeError(c, conflict("network with name %s already exists", req.Name))
		return
	}
	nw := &network.Inspect{
		Name: req.Name, ID: newID(), Created: time.Now().UTC(), Scope: "local", Driver: req.Driver,
		EnableIPv4: true, Internal: req.Internal, Attachable: req.Attachable,
		IPAM:       network.IPAM{Driver: "default", Config: []network.IPAMConfig{}},
		Containers: map[string]network.EndpointResource{}, Options: nonNilMap(req.Options), Labels: nonNilMap(req.Labels),
	}
	if req.IPAM != nil {
		nw.IPAM = *req.IPAM
	}
	b.networks.byID[nw.ID] = nw
	b.networks.mu.Unlock()
	b.journalNetwork(networkEntry{Kind: "create", Network: nw})
	b.publish(events.NetworkEventType, events.ActionCreate, nw.ID, map[string]string{"name": nw.Name, "type": nw.Driver})
	writeJSON(c, http.StatusCreated, network.CreateResponse{ID: nw.ID, Warning: noTrafficWarning})
}

func (b *Backend) handleNetworkDelete(c *gin.Context) {
	nw, err := b.networks.lookup(c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	if err := b.removeNetwork(nw); err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (b *Backend) removeNetwork(nw *network.Inspect) error {
	active := b.activeEndpoints(nw)
	b.networks.mu.Lock()
	defer b.networks.mu.Unlock()
	if nw.Name == "bridge" {
		return errorf(http.StatusForbidden, "bridge is a pre-defined network and cannot be removed")
	}
	if len(active) > 0 {
		return errorf(http.StatusForbidden, "error while removing network: network %s id %s has active endpoints", nw.Name, nw.ID)
	}
	delete(b.networks.byID, nw.ID)
	b.journalNetwork(networkEntry{Kind: "delete", ID: nw.ID})
	b.publish(events.NetworkEventType, events.ActionDestroy, nw.ID, map[string]string{"name": nw.Name, "type": nw.Driver})
	return nil
}

func (b *Backend) handleNetworkConnect(c *gin.Context) {
	var req network.ConnectOptions
	nw, ctr, err := b.networkRequest(c, &req, func() string { return req.Container })
	if err == nil {
		err = b.connect(nw, ctr, req.EndpointConfig)
	}
	if err != nil {
		writeError(c, err)
		return
	}
	c.Status(http.StatusOK)
}

// networkRequest decodes a connect or disconnect body into req and finds
// the network of the path and the container the body names.
func (b *Backend) networkRequest(c *gin.Context, req any, container func() string) (*network.Inspect, *Container, error) {
	if err := bindJSON(c, req); err != nil {
		return nil, nil, err
	}
	nw, err := b.networks.lookup(c.Param("id"))
	if err != nil {
		return nil, nil, err
	}
	ctr, err := b.store.Lookup(container())
	if err != nil {
		return nil, nil, err
	}
	return nw, ctr, nil
}

// connect records ctr on nw with its aliases.
func (b *Backend) connect(nw *network.Inspect, ctr *Container, es *network.EndpointSettings) error {
	if es == nil {
		es = &network.EndpointSettings{}
	}
	b.networks.mu.Lock()
	if _, ok := nw.Containers[ctr.ID]; ok {
		b.networks.mu.Unlock()
		return errorf(http.StatusForbidden, "endpoint with name %s already exists in network %s", strings.TrimPrefix(b.store.Snap(ctr).Name, "/"), nw.Name)
	}
	nw.Containers[ctr.ID] = network.EndpointResource{Name: strings.TrimPrefix(b.store.Snap(ctr).Name, "/"), EndpointID: newID()}
	b.networks.mu.Unlock()
	settings := *es
	settings.NetworkID = nw.ID
	b.store.Update(ctr, func(c *Container) {
		if c.networks == nil {
			c.networks = map[string]*network.EndpointSettings{}
		}
		c.networks[nw.Name] = &settings
	})
	b.journal.append(ctr, journalEntry{Kind: entryConnect, Network: nw.Name, Endpoint: &settings})
	b.publish(events.NetworkEventType, events.ActionConnect, nw.ID, map[string]string{"name": nw.Name, "type": nw.Driver, "container": ctr.ID})
	return nil
}

func (b *Backend) handleNetworkDisconnect(c *gin.Context) {
	var req network.DisconnectOptions
	nw, ctr, err := b.networkRequest(c, &req, func() string { return req.Container })
	if err != nil {
		writeError(c, err)
		return
	}
	b.disconnect(nw, ctr)
	c.Status(http.StatusOK)
}

func (b *Backend) disconnect(nw *network.Inspect, ctr *Container) {
	b.networks.mu.Lock()
	delete(nw.Containers, ctr.ID)
	b.networks.mu.Unlock()
	b.store.Update(ctr, func(c *Container) { delete(c.networks, nw.Name) })
	b.journal.append(ctr, journalEntry{Kind: entryDisconnect, Network: nw.Name})
	b.publish(events.NetworkEventType, events.ActionDisconnect, nw.ID, map[string]string{"name": nw.Name, "type": nw.Driver, "container": ctr.ID})
}

func (b *Backend) handleNetworkPrune(c *gin.Context) {
	b.networks.mu.Lock()
	var unused []*network.Inspect
	for _, nw := range b.networks.byID {
		if nw.Name != "bridge" && len(nw.Containers) == 0 {
			unused = append(unused, nw)
		}
	}
	b.networks.mu.Unlock()
	deleted := []string{}
	for _, nw := range unused {
		if b.removeNetwork(nw) == nil {
			deleted = append(deleted, nw.Name)
		}
	}
	writeJSON(c, http.StatusOK, network.PruneReport{NetworksDeleted: deleted})
}

// checkCreateNetworks finds the networks a create request names (by network
// mode or endpoint); an unknown one fails the create, as Docker does.
func (b *Backend) checkCreateNetworks(req *network.NetworkingConfig, mode string) ([]*network.Inspect, error) {
	var out []*network.Inspect
	names := map[string]bool{}
	if mode != "" && mode != "default" && mode != "bridge" {
		names[mode] = true
	}
	for name := range req.EndpointsConfig {
		if name != "default" && name != "bridge" {
			names[name] = true
		}
	}
	for name := range names {
		nw, err := b.networks.lookup(name)
		if err != nil {
			return nil, err
		}
		out = append(out, nw)
	}
	return out, nil
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// The networks are journaled beside the containers, so that they survive a
// backend restart.
const networkJournalStream = "sockerless/networks"

type networkEntry struct {
	Kind    string           `json:"kind"` // "create" or "delete"
	Network *network.Inspect `json:"network,omitempty"`
	ID      string           `json:"id,omitempty"`
}

func (b *Backend) journalNetwork(e networkEntry) {
	if e.Network != nil {
		nw := *e.Network
		nw.Containers = nil // membership is in the containers' journals
		e.Network = &nw
	}
	b.journal.record(networkJournalStream, e)
}

// recoverNetworks replays the network journal.
func (b *Backend) recoverNetworks(ctx context.Context) error {
	return readEntries(ctx, b.journal, networkJournalStream, func(e networkEntry) {
		b.networks.mu.Lock()
		defer b.networks.mu.Unlock()
		switch {
		case e.Kind == "create" && e.Network != nil:
			e.Network.Containers = map[string]network.EndpointResource{}
			b.networks.byID[e.Network.ID] = e.Network
		case e.Kind == "delete":
			delete(b.networks.byID, e.ID)
		}
	})
}

// relinkNetworks puts a recovered container back on its networks' lists.
func (b *Backend) relinkNetworks(c *Container) {
	snap := b.store.Snap(c)
	b.networks.mu.Lock()
	defer b.networks.mu.Unlock()
	for name := range snap.Networks {
		if nw, err := b.networks.lookupLocked(name); err == nil {
			nw.Containers[c.ID] = network.EndpointResource{Name: strings.TrimPrefix(snap.Name, "/"), EndpointID: newID()}
		}
	}
}
