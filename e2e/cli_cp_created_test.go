package e2e

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// tarFiles reads a tar into name → content (regular files) or "" (the rest).
func tarFiles(b []byte) map[string]string {
	out := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		Expect(err).NotTo(HaveOccurred())
		data, _ := io.ReadAll(tr)
		out[h.Name] = string(data)
	}
}

var _ = Describe("docker cp out of a container that has not started", func() {
	It("reads the image's files, and those copied in before the start", func() {
		n := "e2e-cp-created-" + randomSuffix()
		r := docker("create", "--name", n, "busybox", "true")
		Expect(r.Code).To(Equal(0), r.Stderr)
		defer docker("rm", "-f", n)

		r = docker("cp", n+":/etc/passwd", "-")
		Expect(r.Code).To(Equal(0), r.Stderr)
		files := tarFiles([]byte(r.Stdout))
		Expect(files).To(HaveKey("passwd"))
		Expect(files["passwd"]).To(HavePrefix("root:x:0:0:"))

		dir := GinkgoT().TempDir()
		x := filepath.Join(dir, "x")
		r = docker("cp", n+":/bin/busybox", x)
		Expect(r.Code).To(Equal(0), r.Stderr)
		fi, err := os.Stat(x)
		Expect(err).NotTo(HaveOccurred())
		Expect(fi.Mode().IsRegular()).To(BeTrue())
		Expect(fi.Mode().Perm() & 0o111).NotTo(BeZero())
		Expect(fi.Size()).To(BeNumerically(">", 100<<10))
		b, err := os.ReadFile(x)
		Expect(err).NotTo(HaveOccurred())
		Expect(string(b[:4])).To(Equal("\x7fELF"))

		r = docker("cp", n+":/bin", filepath.Join(dir, "bin"))
		Expect(r.Code).To(Equal(0), r.Stderr)
		for _, f := range []string{"busybox", "sh", "ls"} {
			fi, err := os.Stat(filepath.Join(dir, "bin", f))
			Expect(err).NotTo(HaveOccurred(), f)
			Expect(fi.Size()).To(Equal(int64(len(b))), f) // links (hard or symbolic) to one file
		}

		src := filepath.Join(dir, "staged.txt")
		Expect(os.WriteFile(src, []byte("staged\n"), 0o644)).To(Succeed())
		Expect(docker("cp", src, n+":/tmp/staged.txt").Code).To(Equal(0))
		r = docker("cp", n+":/tmp/staged.txt", "-")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(tarFiles([]byte(r.Stdout))).To(HaveKeyWithValue("staged.txt", "staged\n"))

		r = docker("cp", n+":/no/such/file", "-")
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("Could not find the file"))
	})

	It("refuses an exited container, saying why", func() {
		n := "e2e-cp-exited-" + randomSuffix()
		r := docker("run", "--name", n, "busybox", "true")
		Expect(r.Code).To(Equal(0), r.Stderr)
		defer docker("rm", "-f", n)
		r = docker("cp", n+":/etc/passwd", "-")
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("gone with the environment"))
	})
})
