package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// DialPolicy bounds the attempts to reach the backend.
type DialPolicy struct {
	FirstBackoff time.Duration // wait after the first failure; doubles each time
	MaxBackoff   time.Duration
	Total        time.Duration // give up after this long overall
}

// DefaultDialPolicy retries for about 15 s: long enough to ride out a backend
// restart or a slow first connection, short enough that a container whose
// backend is gone still runs (its output then only reaches CloudWatch).
var DefaultDialPolicy = DialPolicy{FirstBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second, Total: 15 * time.Second}

// errRefused marks an upgrade the backend answered with 401/403: the token will
// not become valid by retrying.
var errRefused = errors.New("backend refused the token")

// backendConn is one connection to the backend: the yamux session over a
// WebSocket.
type backendConn struct {
	ws      *websocket.Conn
	session *yamux.Session
}

func (c *backendConn) Close() {
	_ = c.session.Close()
	_ = c.ws.Close()
}

// dialBackend connects to inv.CallbackURL+ConnectPath, retrying per policy.
func dialBackend(ctx context.Context, inv *protocol.Invocation, policy DialPolicy, diag func(string, ...any)) (*backendConn, error) {
	u, err := url.Parse(inv.CallbackURL)
	if err != nil {
		return nil, fmt.Errorf("callback url: %w", err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("callback url %q: scheme must be ws or wss", inv.CallbackURL)
	}
	target := inv.CallbackURL + protocol.ConnectPath

	dialer := websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		Proxy:            nil, // the callback is reached directly, never through HTTP(S)_PROXY
	}
	if u.Scheme == "wss" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if inv.CACertPEM != "" {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM([]byte(inv.CACertPEM)) {
				return nil, errors.New("callback CA: caCertPem holds no usable certificate")
			}
			cfg.RootCAs = pool // only this CA, not the system roots
		}
		dialer.TLSClientConfig = cfg
	}
	header := http.Header{}
	header.Set(protocol.HeaderAuthorization, "Bearer "+inv.Token)
	header.Set(protocol.HeaderContainerID, inv.ContainerID)
	header.Set(protocol.HeaderRunID, inv.RunID)

	ctx, cancel := context.WithTimeout(ctx, policy.Total)
	defer cancel()
	backoff := policy.FirstBackoff
	for attempt := 1; ; attempt++ {
		ws, resp, err := dialer.DialContext(ctx, target, header)
		if err == nil {
			session, err := yamux.Client(protocol.NewConn(ws), protocol.YamuxConfig())
			if err != nil {
				_ = ws.Close()
				return nil, fmt.Errorf("yamux client: %w", err)
			}
			return &backendConn{ws: ws, session: session}, nil
		}
		if resp != nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
				return nil, fmt.Errorf("dial %s: status %d: %w", target, resp.StatusCode, errRefused)
			}
			err = fmt.Errorf("%w (status %d)", err, resp.StatusCode)
		}
		var certErr *tls.CertificateVerificationError
		if errors.As(err, &certErr) {
			// An untrusted certificate stays untrusted: do not retry.
			return nil, fmt.Errorf("dial %s: %w", target, err)
		}
		diag("dial %s: attempt %d: %v", target, attempt, err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dial %s: gave up after %d attempts: %w", target, attempt, err)
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, policy.MaxBackoff)
	}
}
