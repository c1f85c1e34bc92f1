package backend

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/url"
	"os"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// Environment variables of the callback listener.
const (
	envCallbackSecret  = "SOCKERLESS_CALLBACK_SECRET"   // key of the agents' tokens; random per process when unset
	envCallbackTLSCert = "SOCKERLESS_CALLBACK_TLS_CERT" // PEM certificate (chain) file: serve wss://
	envCallbackTLSKey  = "SOCKERLESS_CALLBACK_TLS_KEY"  // PEM private key file
	envCallbackTLSCA   = "SOCKERLESS_CALLBACK_TLS_CA"   // PEM CA file the agents trust instead of the system roots
)

// minSecret is the shortest SOCKERLESS_CALLBACK_SECRET not warned about.
const minSecret = 32

// callbackConfig is how the callback listener authenticates agents and
// itself.
type callbackConfig struct {
	secret []byte
	tls    *tls.Config // nil: plain ws://
	caPEM  string      // sent to the agents in the invocation
}

// callbackConfigFromEnv reads the callback listener's settings. The token key
// comes from SOCKERLESS_CALLBACK_SECRET so that a backend restarted with the
// same secret accepts the redial of an agent whose run began before it; when
// it is unset a random key is drawn, and running containers cannot be
// reattached after a restart (their exit still comes from CloudWatch).
func callbackConfigFromEnv(callbackURL string) (callbackConfig, error) {
	var cc callbackConfig
	if s := os.Getenv(envCallbackSecret); s != "" {
		if len(s) < minSecret {
			slog.Warn(envCallbackSecret+" is short: agents' tokens are only as strong as it is", "length", len(s), "recommended", minSecret)
		}
		cc.secret = []byte(s)
	} else {
		cc.secret = make([]byte, 32)
		if _, err := rand.Read(cc.secret); err != nil {
			return cc, fmt.Errorf("callback token key: %w", err)
		}
		slog.Info(envCallbackSecret + " is not set: agents of containers started before a restart cannot reconnect")
	}
	cert, key := os.Getenv(envCallbackTLSCert), os.Getenv(envCallbackTLSKey)
	if (cert == "") != (key == "") {
		return cc, fmt.Errorf("%s and %s: set both or neither", envCallbackTLSCert, envCallbackTLSKey)
	}
	u, _ := url.Parse(callbackURL)
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return cc, fmt.Errorf("%s/%s: %w", envCallbackTLSCert, envCallbackTLSKey, err)
		}
		if u != nil && u.Scheme != "wss" {
			return cc, fmt.Errorf("%s is set but SOCKERLESS_CALLBACK_URL %q is not wss://", envCallbackTLSCert, callbackURL)
		}
		cc.tls = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	if ca := os.Getenv(envCallbackTLSCA); ca != "" {
		b, err := os.ReadFile(ca)
		if err != nil {
			return cc, fmt.Errorf("%s: %w", envCallbackTLSCA, err)
		}
		cc.caPEM = string(b)
	}
	return cc, nil
}

// token is the credential of one run: HMAC-SHA256 over the container and run
// IDs. Nothing is stored per token, so a backend restarted with the same
// secret can check it; a finished run is refused because its run is no
// longer the container's current one.
func (cc callbackConfig) token(containerID, runID string) string {
	mac := hmac.New(sha256.New, cc.secret)
	mac.Write([]byte("sockerless-agent\x00" + containerID + "\x00" + runID))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (cc callbackConfig) valid(containerID, runID, token string) bool {
	if containerID == "" || runID == "" || token == "" {
		return false
	}
	return hmac.Equal([]byte(cc.token(containerID, runID)), []byte(token))
}

// sign gives inv a fresh run ID and that run's token, the CA the agent must
// trust, and HoldStart when files were copied into the container before it
// started.
func (a *agents) sign(inv protocol.Invocation) protocol.Invocation {
	inv.RunID = newID()[:32]
	inv.Token = a.cfg.token(inv.ContainerID, inv.RunID)
	inv.CACertPEM = a.cfg.caPEM
	inv.HoldStart = a.staged.has(inv.ContainerID)
	return inv
}
