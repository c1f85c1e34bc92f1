package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("volumes on EFS", func() {
	It("keeps a named volume's files from one container to the next", func() {
		vol := "e2e-vol-" + randomSuffix()
		r := docker("volume", "create", "--label", "suite=volumes", vol)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal(vol + "\n"))
		Expect(docker("volume", "ls", "-q", "--filter", "label=suite=volumes").Stdout).To(ContainSubstring(vol + "\n"))
		Expect(docker("volume", "inspect", "--format", "{{.Driver}} {{.Labels.suite}}", vol).Stdout).To(Equal("local volumes\n"))
		dir := strings.TrimSpace(docker("volume", "inspect", "--format", "{{.Status.Directory}}", vol).Stdout)
		Expect(dir).To(HavePrefix(vol + "."))

		r = docker("run", "--rm", "-v", vol+":/data", "busybox", "sh", "-c", "echo kept > /data/f && mkdir -p /data/d && echo deep > /data/d/g")
		Expect(r.Code).To(Equal(0), r.Stderr)
		r = docker("run", "--rm", "-v", vol+":/srv/files", "busybox", "sh", "-c", "cat /srv/files/f /srv/files/d/g")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("kept\ndeep\n"))

		// In use by a container, even a stopped one: refused, as Docker does.
		name := "e2e-voluser-" + randomSuffix()
		r = docker("create", "--name", name, "--mount", "type=volume,source="+vol+",target=/data", "busybox", "true")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(docker("ps", "-a", "-q", "--filter", "volume="+vol).Stdout).To(HavePrefix(strings.TrimSpace(r.Stdout)[:12]))
		Expect(docker("inspect", "--format", `{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}}{{end}}`, name).Stdout).
			To(Equal("volume " + vol + " /data\n"))
		r = docker("volume", "rm", vol)
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("volume is in use"))
		Expect(docker("rm", name).Code).To(Equal(0))

		if sut.efsDir != "" {
			matches, _ := filepath.Glob(filepath.Join(sut.efsDir, "*", "sockerless-volumes", dir, "f"))
			Expect(matches).To(HaveLen(1), "the volume's file on the simulator's EFS")
		}
		Expect(docker("volume", "rm", vol).Code).To(Equal(0))
		r = docker("volume", "inspect", vol)
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("no such volume"))

		// A volume made again under the same name starts empty.
		r = docker("run", "--rm", "-v", vol+":/data", "busybox", "ls", "-A", "/data")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(BeEmpty())
		Expect(docker("volume", "rm", vol).Code).To(Equal(0))
		// The removed volume's directory went with that run: only a
		// function can reach EFS, so its agent deleted it.
		if sut.efsDir != "" {
			Eventually(func() []string {
				matches, _ := filepath.Glob(filepath.Join(sut.efsDir, "*", "sockerless-volumes", dir))
				return matches
			}).WithTimeout(30 * time.Second).Should(BeEmpty())
		}
	})

	It("shares another container's volumes with --volumes-from", func() {
		vol, holder := "e2e-volfrom-"+randomSuffix(), "e2e-holder-"+randomSuffix()
		r := docker("run", "--name", holder, "-v", vol+":/shared", "busybox", "sh", "-c", "echo from-holder > /shared/f")
		Expect(r.Code).To(Equal(0), r.Stderr)
		r = docker("run", "--rm", "--volumes-from", holder, "busybox", "cat", "/shared/f")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("from-holder\n"))
		r = docker("run", "--rm", "--volumes-from", "e2e-no-such-holder", "busybox", "true")
		Expect(r.Code).To(Equal(125))
		Expect(r.Stderr).To(ContainSubstring("No such container: e2e-no-such-holder"))
		Expect(docker("rm", holder).Code).To(Equal(0))
		Expect(docker("volume", "rm", vol).Code).To(Equal(0))
	})

	It("copies into and out of a volume with docker cp, the mount path a directory as in Docker", func() {
		vol, name := "e2e-cpvol-"+randomSuffix(), "e2e-cpvol-"+randomSuffix()
		r := docker("create", "--name", name, "-v", vol+":/data", "busybox", "cat", "/data/in/f")
		Expect(r.Code).To(Equal(0), r.Stderr)
		src := GinkgoT().TempDir()
		Expect(os.MkdirAll(filepath.Join(src, "in"), 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(src, "in", "f"), []byte("copied in\n"), 0o644)).To(Succeed())
		// Before the start, as CI runners do.
		Expect(docker("cp", filepath.Join(src, "in"), name+":/data/").Code).To(Equal(0))
		r = docker("start", "-a", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("copied in\n"))
		Expect(docker("rm", name).Code).To(Equal(0))

		r = docker("run", "-d", "--name", name, "-v", vol+":/data", "busybox", "sleep", "60")
		Expect(r.Code).To(Equal(0), r.Stderr)
		DeferCleanup(func() { docker("rm", "-f", name); docker("volume", "rm", vol) })
		dst := filepath.Join(GinkgoT().TempDir(), "out")
		r = docker("cp", name+":/data", dst)
		Expect(r.Code).To(Equal(0), r.Stderr)
		fi, err := os.Lstat(dst)
		Expect(err).NotTo(HaveOccurred())
		Expect(fi.IsDir()).To(BeTrue(), "docker cp of a mount path gave %v, not a directory", fi.Mode())
		Expect(os.ReadFile(filepath.Join(dst, "in", "f"))).To(Equal([]byte("copied in\n")))
	})

	It("counts images and volumes in docker system df", func() {
		vol := "e2e-df-" + randomSuffix()
		Expect(docker("pull", "busybox").Code).To(Equal(0))
		Expect(docker("volume", "create", vol).Code).To(Equal(0))
		DeferCleanup(func() { docker("volume", "rm", vol) })
		r := docker("system", "df", "--format", "{{.Type}}={{.TotalCount}}")
		Expect(r.Code).To(Equal(0), r.Stderr)
		counts := map[string]int{}
		for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
			k, v, _ := strings.Cut(line, "=")
			counts[k], _ = strconv.Atoi(v)
		}
		Expect(counts["Images"]).To(BeNumerically(">=", 1), r.Stdout)
		Expect(counts["Local Volumes"]).To(BeNumerically(">=", 1), r.Stdout)
		r = docker("system", "df", "-v", "--format", "{{range .Volumes}}{{.Name}} {{.Links}}\n{{end}}")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(ContainSubstring(vol + " 0\n"))
	})

	It("fills a new volume with what the image has at its path, unless nocopy", func() {
		vol, bare := "e2e-seeded-"+randomSuffix(), "e2e-bare-"+randomSuffix()
		DeferCleanup(func() { docker("volume", "rm", vol); docker("volume", "rm", bare) })
		// busybox's /bin: the binary and its applets' links, which the shell
		// itself needs.
		r := docker("run", "--rm", "-v", vol+":/bin", "busybox", "sh", "-c", "readlink /bin/ls; echo mine > /bin/added")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("busybox\n"))
		// Not new any more: what it holds stays as it is.
		r = docker("run", "--rm", "-v", vol+":/bin", "busybox", "rm", "/bin/ls")
		Expect(r.Code).To(Equal(0), r.Stderr)
		r = docker("run", "--rm", "-v", vol+":/bin", "busybox", "sh", "-c", "cat /bin/added; test -e /bin/ls || echo no-ls")
		Expect(r.Stdout).To(Equal("mine\nno-ls\n"))
		r = docker("run", "--rm", "-v", bare+":/bin:nocopy", "busybox", "true")
		Expect(r.Code).NotTo(Equal(0), "a nocopy volume over /bin still had the image's binaries")
	})

	It("gives -v /path an anonymous volume that --rm removes", func() {
		before := docker("volume", "ls", "-q").Stdout
		r := docker("run", "--rm", "-v", "/scratch", "busybox", "sh", "-c", "echo anon > /scratch/x && cat /scratch/x")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("anon\n"))
		Eventually(func() string { return docker("volume", "ls", "-q").Stdout }).WithTimeout(20e9).Should(Equal(before))
	})

	It("makes a --tmpfs path writable and empty at each start", func() {
		r := docker("run", "--rm", "--tmpfs", "/run/scratch", "busybox", "sh", "-c", "touch /run/scratch/a && ls /run/scratch")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(Equal("a\n"))
	})

	It("takes --tmpfs /tmp and an anonymous volume at /tmp (as an image's VOLUME /tmp) as the function's own /tmp", func() {
		for _, args := range [][]string{{"--tmpfs", "/tmp"}, {"-v", "/tmp"}} {
			r := docker(append(append([]string{"run", "--rm"}, args...), "busybox", "sh", "-c", "echo ok > /tmp/f && cat /tmp/f")...)
			Expect(r.Code).To(Equal(0), r.Stderr)
			Expect(r.Stdout).To(Equal("ok\n"))
		}
	})

	It("refuses mounts Lambda cannot have: a volume at /tmp, over the agent or EFS, nested", func() {
		for args, want := range map[string]string{
			"-v e2e-tmpvol:/tmp":            "a volume cannot be mounted at /tmp on Lambda",
			"--tmpfs /opt":                  "/opt is reserved on Lambda",
			"--tmpfs /mnt":                  "/mnt is reserved on Lambda",
			"-v e2e-etcvol:/etc":            "/etc is reserved on Lambda",
			"-v e2e-app:/app -v /app/cache": "nested mounts are not supported on Lambda",
		} {
			r := docker(append(append([]string{"run", "--rm"}, strings.Fields(args)...), "busybox", "true")...)
			Expect(r.Code).To(Equal(125), args)
			Expect(r.Stderr).To(ContainSubstring(want), args)
		}
		Expect(docker("volume", "ls", "-q", "--filter", "name=e2e-tmpvol").Stdout).To(BeEmpty())
		docker("volume", "rm", "e2e-app")
	})

	It("refuses bind mounts and bad volume names with Docker's kind of message", func() {
		r := docker("run", "--rm", "-v", "/etc:/hostetc", "busybox", "true")
		Expect(r.Code).To(Equal(125))
		Expect(r.Stderr).To(ContainSubstring("bind mounts are not supported on Lambda"))
		r = docker("volume", "create", "bad/name")
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("includes invalid characters for a local volume name"))
	})

	It("are a clear error on a backend without an access point, never an empty directory", func() {
		at := secondBackendOnSocket("SOCKERLESS_EFS_ACCESS_POINT_ARN=")
		r := dockerAt(at, "volume", "create", "e2e-vol")
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("set SOCKERLESS_EFS_ACCESS_POINT_ARN"))
		r = dockerAt(at, "run", "--rm", "-v", "e2e-vol:/data", "busybox", "true")
		Expect(r.Code).To(Equal(125))
		Expect(r.Stderr).To(ContainSubstring("named volumes are not available"))
		Expect(dockerAt(at, "volume", "ls", "-q")).To(HaveField("Stdout", ""))
	})
})
