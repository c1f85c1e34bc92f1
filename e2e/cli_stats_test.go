package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// binarySize formats bytes as the docker CLI does (go-units BytesSize).
func binarySize(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	return fmt.Sprintf("%.4g%s", b, units[i])
}

var _ = Describe("docker stats", Ordered, func() {
	var name, id string

	BeforeAll(func() {
		name = "e2e-stats-" + randomSuffix()
		r := docker("run", "-d", "--name", name, "busybox", "sleep", "300")
		Expect(r.Code).To(Equal(0), r.Stderr)
		id = strings.TrimSpace(r.Stdout)
		DeferCleanup(func() { docker("rm", "-f", name) })
	})

	It("shows the sandbox's memory against the function's memory, and its processes", func() {
		r := docker("stats", "--no-stream", "--format", "{{.MemUsage}} {{.PIDs}} {{.CPUPerc}} {{.NetIO}}", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		f := strings.Fields(r.Stdout) // usage / limit pids cpu% rx / tx
		Expect(f).To(HaveLen(8), r.Stdout)
		Expect(f[0]).NotTo(Equal("0B"), "memory usage")
		Expect(f[2]).To(Equal(binarySize(float64(lambdaMemory(id))*(1<<20))), "memory limit")
		Expect(f[3]).To(Equal("1"), "pids: the sleep")
		Expect(f[4]).To(HaveSuffix("%"))
	})

	It("streams one object after another through the SDK", func(ctx SpecContext) {
		cli := sdk(true)
		defer cli.Close()
		resp, err := cli.ContainerStats(ctx, id, true)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		dec := json.NewDecoder(resp.Body)
		var first, second container.StatsResponse
		Expect(dec.Decode(&first)).To(Succeed())
		Expect(dec.Decode(&second)).To(Succeed())
		Expect(second.ID).To(Equal(id))
		Expect(second.Name).To(Equal("/" + name))
		Expect(second.Read.After(first.Read)).To(BeTrue())
		Expect(second.PreRead).To(Equal(first.Read))
		Expect(second.PreCPUStats.CPUUsage.TotalUsage).To(Equal(first.CPUStats.CPUUsage.TotalUsage))
		Expect(second.CPUStats.SystemUsage).NotTo(BeZero())
		Expect(second.CPUStats.OnlineCPUs).NotTo(BeZero())
		Expect(second.MemoryStats.Usage).NotTo(BeZero())
		Expect(second.MemoryStats.Limit).To(Equal(uint64(lambdaMemory(id)) << 20))
		Expect(second.PidsStats.Current).To(Equal(uint64(1)))
	}, SpecTimeout(time.Minute))

	It("answers all-zero objects for a container that is not running: one, or a stream until it is removed", func(ctx SpecContext) {
		exited := "e2e-stats-exited-" + randomSuffix()
		r := docker("run", "--name", exited, "busybox", "true")
		Expect(r.Code).To(Equal(0), r.Stderr)
		DeferCleanup(func() { docker("rm", "-f", exited) })

		cli := sdk(true)
		defer cli.Close()
		expectZero := func(dec *json.Decoder) {
			GinkgoHelper()
			var s container.StatsResponse
			Expect(dec.Decode(&s)).To(Succeed())
			Expect(s.Name).To(Equal("/" + exited))
			Expect(s.Read.IsZero()).To(BeTrue())
			Expect(s.MemoryStats).To(BeZero())
			Expect(s.CPUStats).To(BeZero())
			Expect(s.PidsStats).To(BeZero())
		}
		resp, err := cli.ContainerStats(ctx, exited, false)
		Expect(err).NotTo(HaveOccurred())
		dec := json.NewDecoder(resp.Body)
		expectZero(dec)
		Expect(dec.Decode(&container.StatsResponse{})).To(MatchError(io.EOF), "stream=false: one object, then the end")
		resp.Body.Close()

		// As dockerd: the stream goes on with zeros, and ends with the container.
		resp, err = cli.ContainerStats(ctx, exited, true)
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		dec = json.NewDecoder(resp.Body)
		expectZero(dec)
		expectZero(dec)
		Expect(docker("rm", exited).Code).To(Equal(0))
		Eventually(func() error { return dec.Decode(&container.StatsResponse{}) }).WithTimeout(10 * time.Second).Should(MatchError(io.EOF))
	}, SpecTimeout(time.Minute))
})
