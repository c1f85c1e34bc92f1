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

func TestMakeMountsSeedsNewVolumesOnly(t *testing.T) {
	dir := t.TempDir()
	from := filepath.Join(dir, "seed")
	if err := os.MkdirAll(filepath.Join(from, "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(from, "sub", "f"), []byte("image"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("sub/f", filepath.Join(from, "l")); err != nil {
		t.Fatal(err)
	}
	fresh, used := filepath.Join(dir, "efs", "fresh"), filepath.Join(dir, "efs", "used")
	if err := os.MkdirAll(used, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(used, "mine"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := makeMounts([]protocol.Mount{
		{Path: "/a", Link: filepath.Join(dir, "links", "a"), Dir: fresh, Seed: from},
		{Path: "/b", Link: filepath.Join(dir, "links", "b"), Dir: used, Seed: from},
		{Path: "/c", Link: filepath.Join(dir, "links", "c"), Seed: from},
		{Path: "/d", Link: filepath.Join(dir, "links", "d"), Seed: filepath.Join(dir, "none")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range []string{fresh, filepath.Join(dir, "links", "c")} {
		if b, err := os.ReadFile(filepath.Join(got, "l")); err != nil || string(b) != "image" {
			t.Errorf("%s not seeded: %q, %v", got, b, err)
		}
		if fi, err := os.Stat(filepath.Join(got, "sub", "f")); err != nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode not kept: %v, %v", got, fi, err)
		}
	}
	if _, err := os.Stat(filepath.Join(used, "sub")); !os.IsNotExist(err) {
		t.Errorf("a volume in use was seeded: %v", err)
	}
}
