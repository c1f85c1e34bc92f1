package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// pki writes a CA, a server certificate for 127.0.0.1 and a client
// certificate into dir, as `docker --tlsverify` expects them.
func pki(dir string) {
	GinkgoHelper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	Expect(err).NotTo(HaveOccurred())
	write := func(name, typ string, der []byte) {
		Expect(os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)).To(Succeed())
	}
	write("ca.pem", "CERTIFICATE", caDER)
	issue := func(name string, serial int64, usage x509.ExtKeyUsage, ips []net.IP) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		Expect(err).NotTo(HaveOccurred())
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		Expect(err).NotTo(HaveOccurred())
		keyDER, err := x509.MarshalECPrivateKey(key)
		Expect(err).NotTo(HaveOccurred())
		write(name+".pem", "CERTIFICATE", der)
		write(name+"-key.pem", "EC PRIVATE KEY", keyDER)
	}
	issue("server", 2, x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")})
	issue("cert", 3, x509.ExtKeyUsageClientAuth, nil)
	Expect(os.Rename(filepath.Join(dir, "cert-key.pem"), filepath.Join(dir, "key.pem"))).To(Succeed())
}

// secondBackend starts another backend on the suite's simulator with args
// and extra environment, and stops it when the spec ends.
func secondBackend(args []string, env ...string) *exec.Cmd {
	GinkgoHelper()
	if len(sut.backendEnv) == 0 {
		Skip("the suite runs against an external backend: it cannot start another")
	}
	gw, err := bridgeGateway()
	Expect(err).NotTo(HaveOccurred())
	cb, err := freePort(gw)
	Expect(err).NotTo(HaveOccurred())
	cmd := exec.Command(filepath.Join(repoRoot(), "bin", "sockerless-backend-lambda"), args...)
	cmd.Env = append(append(os.Environ(), sut.backendEnv...),
		"SOCKERLESS_CALLBACK_URL=ws://"+gw+":"+cb, "SOCKERLESS_CALLBACK_LISTEN="+gw+":"+cb,
		// Its own log group, so that it does not adopt the suite backend's containers.
		"SOCKERLESS_LAMBDA_LOG_GROUP=/sockerless/e2e-second-"+cb)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = GinkgoWriter, GinkgoWriter
	Expect(cmd.Start()).To(Succeed())
	DeferCleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// secondBackendOnSocket starts another backend (see secondBackend) on a unix
// socket, waits until it answers, and returns the docker CLI's options to
// reach it.
func secondBackendOnSocket(env ...string) []string {
	GinkgoHelper()
	sock := filepath.Join(GinkgoT().TempDir(), "docker.sock")
	secondBackend([]string{"-H", "unix://" + sock}, env...)
	at := []string{"-H", "unix://" + sock}
	Eventually(func() result { return dockerAt(at, "info", "--format", "{{.OSType}}") }).
		WithTimeout(30 * time.Second).Should(HaveField("Stdout", "linux\n"))
	return at
}

// dockerAt runs the docker CLI with the given global options.
func dockerAt(global []string, args ...string) result {
	GinkgoHelper()
	return runCLI("docker", append(global, args...), []string{"DOCKER_CONFIG=" + dockerCfg, "DOCKER_HOST=", "DOCKER_CONTEXT=", "DOCKER_TLS_VERIFY=", "DOCKER_CERT_PATH="}, "", "")
}

var _ = Describe("listening", func() {
	It("serves TLS with client certificates, as dockerd's --tlsverify", func() {
		dir := GinkgoT().TempDir()
		pki(dir)
		port, err := freePort("127.0.0.1")
		Expect(err).NotTo(HaveOccurred())
		host := "tcp://127.0.0.1:" + port
		secondBackend([]string{"--tlsverify", "--tlscacert", dir + "/ca.pem", "--tlscert", dir + "/server.pem", "--tlskey", dir + "/server-key.pem", "-H", host})
		tlsArgs := []string{"--tlsverify", "--tlscacert", dir + "/ca.pem", "--tlscert", dir + "/cert.pem", "--tlskey", dir + "/key.pem", "-H", host}
		Eventually(func() result { return dockerAt(tlsArgs, "version", "--format", "{{.Server.APIVersion}}") }).
			WithTimeout(30 * time.Second).Should(HaveField("Stdout", "1.51\n"))

		r := dockerAt([]string{"--tls", "--tlscacert", dir + "/ca.pem", "-H", host}, "version", "--format", "{{.Server.APIVersion}}")
		Expect(r.Code).NotTo(Equal(0), "a client without a certificate was served")
		r = dockerAt([]string{"-H", host}, "version", "--format", "{{.Server.APIVersion}}")
		Expect(r.Code).NotTo(Equal(0), "a plain-HTTP client was served")
	})

	It("serves a unix socket", func() {
		secondBackendOnSocket()
	})

	It("refuses plain TCP beyond loopback unless explicitly allowed", func() {
		cmd := exec.Command(filepath.Join(repoRoot(), "bin", "sockerless-backend-lambda"), "-H", "tcp://0.0.0.0:0")
		cmd.Env = append(os.Environ(), sut.backendEnv...)
		out, err := cmd.CombinedOutput()
		Expect(err).To(HaveOccurred())
		Expect(strings.TrimSpace(string(out))).To(HavePrefix("sockerless-backend-lambda: SOCKERLESS_DOCKER_HOST: plain TCP on 0.0.0.0"))
	})
})
