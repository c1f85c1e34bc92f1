package agent

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

func TestMakeMounts(t *testing.T) {
	dir := t.TempDir()
	volume := filepath.Join(dir, "efs", "data.1")
	vLink, tLink := filepath.Join(dir, "links", "v"), filepath.Join(dir, "links", "t")
	// What an earlier run in this environment left behind is replaced.
	if err := os.MkdirAll(tLink, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tLink, "old"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := makeMounts([]protocol.Mount{{Path: "/data", Link: vLink, Dir: volume}, {Path: "/run", Link: tLink}})
	if err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(vLink); err != nil || target != volume {
		t.Errorf("volume link: %q, %v", target, err)
	}
	if err := os.WriteFile(filepath.Join(vLink, "f"), []byte("x"), 0o644); err != nil {
		t.Errorf("write through the volume link: %v", err)
	}
	fi, err := os.Stat(tLink)
	if err != nil || fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
		t.Errorf("tmpfs directory: %v, %v", fi.Mode(), err)
	}
	if entries, _ := os.ReadDir(tLink); len(entries) != 0 {
		t.Errorf("tmpfs directory not empty: %v", entries)
	}
}

func TestPurgeable(t *testing.T) {
	mounts := []protocol.Mount{{Path: "/data", Link: "/tmp/.sockerless/mounts/a", Dir: "/mnt/sockerless/data.1"}, {Path: "/run", Link: "/tmp/x"}}
	for dir, want := range map[string]bool{
		"/mnt/sockerless/old.2":     true,
		"/mnt/sockerless":           false,
		"/mnt/sockerless/../etc":    false,
		"/mnt/sockerless/a/b":       false,
		"/tmp/x":                    false,
		"mnt/sockerless/old.2":      false,
		"/mnt/sockerless/old.2/../": false,
	} {
		if got := purgeable(dir, mounts); got != want {
			t.Errorf("purgeable(%q) = %v, want %v", dir, got, want)
		}
	}
	if purgeable("/mnt/sockerless/old.2", nil) {
		t.Error("purgeable without a volume mount")
	}
}

func TestRemoveTreeReadOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	if err := os.MkdirAll(filepath.Join(dir, "mod", "pkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mod", "pkg", "f"), nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "mod", "pkg"), 0o555); err != nil {
		t.Fatal(err)
	}
	if err := removeTree(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("still there: %v", err)
	}
}
