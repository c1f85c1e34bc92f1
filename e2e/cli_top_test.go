package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// topLines runs docker top and gives its header's and rows' fields.
func topLines(args ...string) (header []string, rows [][]string) {
	r := docker(append([]string{"top"}, args...)...)
	Expect(r.Code).To(Equal(0), r.Stderr)
	lines := strings.Split(strings.TrimRight(r.Stdout, "\n"), "\n")
	Expect(lines).NotTo(BeEmpty())
	for _, l := range lines[1:] {
		rows = append(rows, strings.Fields(l))
	}
	return strings.Fields(lines[0]), rows
}

var _ = Describe("docker top", Ordered, func() {
	var name string

	BeforeAll(func() {
		name = "e2e-top-" + randomSuffix()
		r := docker("run", "-d", "--name", name, "busybox", "sleep", "300")
		Expect(r.Code).To(Equal(0), r.Stderr)
		DeferCleanup(func() { docker("rm", "-f", name) })
		Eventually(func() string { return docker("top", name).Stdout }, "30s", "200ms").Should(ContainSubstring("sleep 300"))
	})

	It("shows ps -ef's columns without ps options", func() {
		header, rows := topLines(name)
		Expect(header).To(Equal([]string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"}))
		Expect(rows).To(HaveLen(1))
		Expect(rows[0]).To(HaveLen(9)) // CMD is "sleep 300"
		Expect(rows[0][1]).To(MatchRegexp(`^\d+$`))
		Expect(rows[0][4]).To(MatchRegexp(`^\d\d:\d\d$`))
		Expect(rows[0][5]).To(Equal("?"))
		Expect(rows[0][6]).To(MatchRegexp(`^\d\d:\d\d:\d\d$`))
		Expect(rows[0][7:]).To(Equal([]string{"sleep", "300"}))

		h, _ := topLines(name, "-ef")
		Expect(h).To(Equal(header))
		h, _ = topLines(name, "-e")
		Expect(h).To(Equal([]string{"PID", "TTY", "TIME", "CMD"}))
	})

	It("shows ps aux's columns with aux", func() {
		for _, args := range []string{"aux", "-aux"} {
			header, rows := topLines(name, args)
			Expect(header).To(Equal([]string{"USER", "PID", "%CPU", "%MEM", "VSZ", "RSS", "TTY", "STAT", "START", "TIME", "COMMAND"}))
			Expect(rows).To(HaveLen(1))
			row := rows[0]
			Expect(row).To(HaveLen(12), "%q", row) // COMMAND is "sleep 300"
			Expect(row[2]).To(MatchRegexp(`^\d+(\.\d)?$`))
			Expect(row[3]).To(MatchRegexp(`^\d+\.\d$`))
			Expect(row[4]).To(MatchRegexp(`^[1-9]\d*$`))
			Expect(row[5]).To(MatchRegexp(`^[1-9]\d*$`))
			Expect(row[6]).To(Equal("?"))
			Expect(row[7]).To(MatchRegexp(`^S`))
			Expect(row[8]).To(MatchRegexp(`^\d\d:\d\d$`))
			Expect(row[9]).To(MatchRegexp(`^\d+:\d\d$`))
			Expect(row[10:]).To(Equal([]string{"sleep", "300"}))
		}
	})

	It("shows the columns of -o with procps's headers", func() {
		header, rows := topLines(name, "-o", "pid,comm,args")
		Expect(header).To(Equal([]string{"PID", "COMMAND", "COMMAND"}))
		Expect(rows).To(HaveLen(1))
		Expect(strings.Join(rows[0], " ")).To(MatchRegexp(`^\d+ sleep sleep 300$`))

		header, rows = topLines(name, "-o", "pid,ppid,etime,stat,nlwp", "-o", "comm=NAME")
		Expect(header).To(Equal([]string{"PID", "PPID", "ELAPSED", "STAT", "NLWP", "NAME"}))
		Expect(rows[0][2]).To(MatchRegexp(`^\d\d:\d\d$`))
		Expect(rows[0][4]).To(Equal("1"))
		Expect(rows[0][5]).To(Equal("sleep"))
	})

	It("fails as dockerd does when ps would fail, naming the bad argument", func() {
		r := docker("top", name, "-o", "bogus")
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring(`unknown user-defined format specifier "bogus"`))

		r = docker("top", name, "-o", "comm")
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("Couldn't find PID field in ps output"))

		resp, err := http.Get("http://" + strings.TrimPrefix(sut.DockerHost, "tcp://") + "/v1.44/containers/" + name +
			"/top?ps_args=" + url.QueryEscape("-o pid,bogus"))
		Expect(err).NotTo(HaveOccurred())
		defer resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusInternalServerError))
		body, _ := io.ReadAll(resp.Body)
		var m map[string]string
		Expect(json.Unmarshal(body, &m)).To(Succeed())
		Expect(m["message"]).To(Equal(`ps: error: unknown user-defined format specifier "bogus"`))
	})
})
