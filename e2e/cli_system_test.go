package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("docker events", func() {
	It("reports a container's life, die with its exit code", func() {
		since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
		name := "e2e-events-" + randomSuffix()
		r := docker("run", "--rm", "--name", name, "busybox", "sh", "-c", "exit 4")
		Expect(r.Code).To(Equal(4), r.Stderr)
		until := strconv.FormatInt(time.Now().Add(time.Second).Unix(), 10)
		r = docker("events", "--since", since, "--until", until, "--filter", "container="+name,
			"--format", "{{.Type}} {{.Action}} {{index .Actor.Attributes \"name\"}} {{index .Actor.Attributes \"exitCode\"}}")
		Expect(r.Code).To(Equal(0), r.Stderr)
		var lines []string
		for _, l := range strings.Split(r.Stdout, "\n") {
			lines = append(lines, strings.TrimSpace(l))
		}
		Expect(lines).To(ContainElements(
			"container create "+name,
			"container start "+name,
			"container die "+name+" 4",
			"container destroy "+name,
		))
	})
})

var _ = Describe("docker network", func() {
	It("records networks, and says plainly that they carry no traffic", func() {
		name := "e2e-net-" + randomSuffix()
		r := docker("network", "create", name)
		Expect(r.Code).To(Equal(0), r.Stderr)

		r = docker("network", "create", name)
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("network with name " + name + " already exists"))

		r = docker("network", "ls", "--format", "{{.Name}}")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(strings.Fields(r.Stdout)).To(ContainElements("bridge", name))

		ctr := "e2e-on-net-" + randomSuffix()
		r = docker("run", "-d", "--name", ctr, "--network", name, "--network-alias", "db", "busybox", "sleep", "60")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stderr).To(ContainSubstring("WARNING: Lambda functions accept no inbound connections: containers on this network cannot reach each other"))
		r = docker("inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.Aliases}}{{end}}", ctr)
		Expect(r.Stdout).To(Equal(name + " [db]\n"))
		r = docker("network", "inspect", "--format", "{{range .Containers}}{{.Name}}{{end}}", name)
		Expect(r.Stdout).To(Equal(ctr + "\n"))

		r = docker("network", "rm", name)
		Expect(r.Code).NotTo(Equal(0), "a network with a container on it was removed")
		Expect(r.Stderr).To(ContainSubstring("has active endpoints"))
		// Stopped, it has no endpoint, as in Docker, though it stays on the network.
		Expect(docker("stop", "-t", "0", ctr).Code).To(Equal(0))
		Expect(docker("network", "inspect", "--format", "{{len .Containers}}", name).Stdout).To(Equal("0\n"))
		Expect(docker("inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}", ctr).Stdout).To(Equal(name + "\n"))
		Expect(docker("rm", ctr).Code).To(Equal(0))
		Expect(docker("network", "rm", name).Code).To(Equal(0))
		Expect(docker("network", "inspect", name).Stderr).To(ContainSubstring("network " + name + " not found"))

		r = docker("create", "--network", "e2e-no-such-net", "busybox", "true")
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("network e2e-no-such-net not found"))
	})
})

var _ = Describe("unknown endpoints", func() {
	It("answer 404 with a JSON message", func() {
		resp, err := http.Get("http://" + strings.TrimPrefix(sut.DockerHost, "tcp://") + "/v1.44/no/such/thing")
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusNotFound))
		Expect(resp.Header.Get("Content-Type")).To(Equal("application/json"))
		Expect(resp.Header.Get("Api-Version")).NotTo(BeEmpty())
		body, _ := io.ReadAll(resp.Body)
		var m map[string]string
		Expect(json.Unmarshal(body, &m)).To(Succeed())
		Expect(m["message"]).To(Equal("page not found"))
	})
})
