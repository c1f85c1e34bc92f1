package backend

import "testing"

func TestCheckPlatform(t *testing.T) {
	r := &Registry{cfg: Config{Architecture: "x86_64"}}
	for platform, ok := range map[string]bool{
		"": true, "linux/amd64": true, "amd64": true, "linux/x86_64": true, "LINUX/AMD64": true,
		"linux/arm64": false, "linux/arm64/v8": false, "windows/amd64": false, "arm64": false,
	} {
		if err := r.checkPlatform(platform); (err == nil) != ok {
			t.Errorf("checkPlatform(%q) = %v", platform, err)
		}
	}
	r.cfg.Architecture = "arm64"
	if err := r.checkPlatform("linux/aarch64"); err != nil {
		t.Errorf("arm64 backend refused linux/aarch64: %v", err)
	}
}
