package backend

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/gorilla/websocket"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// testAgents is a callback listener with a store and no AWS behind it.
func testAgents(t *testing.T) (*agents, *httptest.Server) {
	t.Helper()
	t.Setenv(envCallbackSecret, strings.Repeat("s", minSecret))
	b := &Backend{cfg: Config{CallbackURL: "ws://127.0.0.1:1"}, store: NewStore()}
	a, err := newAgents(b)
	if err != nil {
		t.Fatal(err)
	}
	b.agents = a
	srv := httptest.NewServer(a.server.Handler)
	t.Cleanup(srv.Close)
	return a, srv
}

// startRun registers a running container and its run, as start does.
func startRun(t *testing.T, a *agents, id string) *run {
	t.Helper()
	c := &Container{ID: id, Config: &container.Config{}, HostConfig: &container.HostConfig{}, status: stateRunning}
	if err := a.b.store.Reserve(c, "/"+id[:8]); err != nil {
		t.Fatal(err)
	}
	inv := a.sign(protocol.Invocation{ContainerID: id})
	r := newRun(c, inv.Token, inv)
	a.issue(r)
	a.b.store.Update(c, func(c *Container) { c.run = r })
	return r
}

func dial(srv *httptest.Server, cid, runID, token string) int {
	h := http.Header{}
	if token != "" {
		h.Set(protocol.HeaderAuthorization, "Bearer "+token)
	}
	h.Set(protocol.HeaderContainerID, cid)
	h.Set(protocol.HeaderRunID, runID)
	ws, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+protocol.ConnectPath, h)
	if err == nil {
		ws.Close()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

func TestAgentTokensRefused(t *testing.T) {
	a, srv := testAgents(t)
	idA, idB := strings.Repeat("a", 64), strings.Repeat("b", 64)
	ra, rb := startRun(t, a, idA), startRun(t, a, idB)

	cases := []struct {
		name              string
		cid, runID, token string
		want              int
	}{
		{"no token", idA, ra.inv.RunID, "", http.StatusUnauthorized},
		{"wrong token", idA, ra.inv.RunID, "AAAA" + ra.token[4:], http.StatusUnauthorized},
		{"another container's token", idA, rb.inv.RunID, rb.token, http.StatusUnauthorized},
		{"another container's token, its own ID", idA, ra.inv.RunID, rb.token, http.StatusUnauthorized},
		{"valid", idA, ra.inv.RunID, ra.token, http.StatusSwitchingProtocols},
	}
	for _, tc := range cases {
		if got := dial(srv, tc.cid, tc.runID, tc.token); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}

	// The run ends: its token is spent, though the HMAC still checks out.
	a.b.store.Update(ra.container, func(c *Container) { c.status = stateExited })
	a.revoke(ra)
	if got := dial(srv, idA, ra.inv.RunID, ra.token); got != http.StatusUnauthorized {
		t.Errorf("replayed token of a finished run: status %d", got)
	}
	// A new run of the same container: the old run's token stays refused.
	ra2 := startRun2(t, a, ra.container)
	if got := dial(srv, idA, ra.inv.RunID, ra.token); got != http.StatusUnauthorized {
		t.Errorf("token of an earlier run: status %d", got)
	}
	if got := dial(srv, idA, ra2.inv.RunID, ra2.token); got != http.StatusSwitchingProtocols {
		t.Errorf("token of the new run: status %d", got)
	}
}

func startRun2(t *testing.T, a *agents, c *Container) *run {
	t.Helper()
	inv := a.sign(protocol.Invocation{ContainerID: c.ID})
	r := newRun(c, inv.Token, inv)
	a.issue(r)
	a.b.store.Update(c, func(c *Container) { c.run = r; c.status = stateRunning })
	return r
}

func TestAgentTokenAfterRestart(t *testing.T) {
	// A backend restarted with the same secret knows the container is
	// running (rebuilt from AWS) but not the run: the agent's redial with a
	// valid token is adopted, and from then on only that run is accepted.
	a, srv := testAgents(t)
	id := strings.Repeat("c", 64)
	c := &Container{ID: id, Config: &container.Config{}, HostConfig: &container.HostConfig{}, status: stateRunning}
	if err := a.b.store.Reserve(c, "/restarted"); err != nil {
		t.Fatal(err)
	}
	r := newRun(c, "", protocol.Invocation{ContainerID: id})
	a.b.store.Update(c, func(c *Container) { c.run = r })
	runID := "run-before-restart"
	token := a.cfg.token(id, runID)
	if got := dial(srv, id, runID, token); got != http.StatusSwitchingProtocols {
		t.Fatalf("redial after restart: status %d", got)
	}
	if got := dial(srv, id, "another-run", a.cfg.token(id, "another-run")); got != http.StatusUnauthorized {
		t.Errorf("a second run for the adopted one: status %d", got)
	}
	// A different secret (another backend, or none configured) refuses it.
	other := callbackConfig{secret: []byte("other")}
	if got := dial(srv, id, runID, other.token(id, runID)); got != http.StatusUnauthorized {
		t.Errorf("token from another secret: status %d", got)
	}
}
