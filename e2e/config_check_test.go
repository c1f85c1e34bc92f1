package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// startBadBackend runs the backend with the suite's configuration changed by
// env and returns what it printed; it must refuse to start.
func startBadBackend(env ...string) string {
	GinkgoHelper()
	if len(sut.backendEnv) == 0 {
		Skip("the suite runs against an external backend: it cannot start another")
	}
	cmd := exec.Command(filepath.Join(repoRoot(), "bin", "sockerless-backend-lambda"), "-H", "unix://"+filepath.Join(GinkgoT().TempDir(), "docker.sock"))
	cmd.Env = append(append(os.Environ(), sut.backendEnv...), env...)
	out, err := cmd.CombinedOutput()
	Expect(err).To(HaveOccurred(), "the backend started with a bad configuration:\n%s", out)
	return strings.TrimSpace(string(out))
}

var _ = Describe("configuration checked against AWS at start", func() {
	It("refuses an access point that does not exist", func() {
		out := startBadBackend("SOCKERLESS_EFS_ACCESS_POINT_ARN=arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0000000000000000f")
		Expect(out).To(HaveSuffix("sockerless-backend-lambda: SOCKERLESS_EFS_ACCESS_POINT_ARN: access point arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-0000000000000000f does not exist"))
	})

	It("refuses a role of another account than the credentials'", func() {
		out := startBadBackend("SOCKERLESS_LAMBDA_ROLE_ARN=arn:aws:iam::210987654321:role/elsewhere")
		Expect(out).To(ContainSubstring("SOCKERLESS_LAMBDA_ROLE_ARN: arn:aws:iam::210987654321:role/elsewhere is in account 210987654321, but these credentials are of account 123456789012"))
	})
})
