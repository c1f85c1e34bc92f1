package backend

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/gorilla/websocket"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// writeCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeCert(t *testing.T) (certFile, keyFile string, certPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "callback"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, certPEM
}

func TestCallbackListenerTLS(t *testing.T) {
	cert, key, certPEM := writeCert(t)
	t.Setenv(envCallbackTLSCert, cert)
	t.Setenv(envCallbackTLSKey, key)
	t.Setenv(envCallbackTLSCA, cert)
	t.Setenv(envCallbackSecret, strings.Repeat("k", minSecret))

	b := &Backend{cfg: Config{CallbackURL: "ws://127.0.0.1:1"}, store: NewStore()}
	if _, err := newAgents(b); err == nil || !strings.Contains(err.Error(), "wss://") {
		t.Errorf("TLS with a ws:// callback URL: %v", err)
	}
	b.cfg.CallbackURL = "wss://127.0.0.1:1"
	a, err := newAgents(b)
	if err != nil {
		t.Fatal(err)
	}
	b.agents = a
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go a.serve(ln)
	t.Cleanup(func() { _ = a.server.Close() })

	id := strings.Repeat("d", 64)
	c := &Container{ID: id, Config: &container.Config{}, HostConfig: &container.HostConfig{}, status: stateRunning}
	if err := b.store.Reserve(c, "/tls"); err != nil {
		t.Fatal(err)
	}
	inv := a.sign(protocol.Invocation{ContainerID: id})
	if inv.CACertPEM != string(certPEM) {
		t.Error("the invocation does not carry the CA the agent must trust")
	}
	r := newRun(c, inv.Token, inv)
	a.issue(r)
	b.store.Update(c, func(c *Container) { c.run = r })

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	h := http.Header{}
	h.Set(protocol.HeaderAuthorization, "Bearer "+inv.Token)
	h.Set(protocol.HeaderContainerID, id)
	h.Set(protocol.HeaderRunID, inv.RunID)
	url := "wss://" + ln.Addr().String() + protocol.ConnectPath
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}}
	ws, _, err := d.Dial(url, h)
	if err != nil {
		t.Fatalf("wss with the CA: %v", err)
	}
	ws.Close()
	if _, _, err := websocket.DefaultDialer.Dial(url, h); err == nil {
		t.Error("wss without the CA was trusted")
	}
}
