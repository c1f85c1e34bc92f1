package agent

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

func collect(t *testing.T, out string) []protocol.LogLine {
	t.Helper()
	var lines []protocol.LogLine
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		line, _, ok := protocol.ParseLogLine(l)
		if !ok {
			t.Fatalf("unparsable %q", l)
		}
		lines = append(lines, line)
	}
	return lines
}

func TestLineSplitterPieces(t *testing.T) {
	buf := &syncBuffer{}
	s := newLineSplitter(NewLogWriter(buf), "stdout", 0)
	// A 3-byte character straddles the MaxLogLine boundary.
	long := strings.Repeat("a", protocol.MaxLogLine-1) + "€" + "tail\n"
	input := "one\n" + long + "two\nno-newline"
	// Feed it in awkward chunks.
	for i := 0; i < len(input); i += 7 {
		_, _ = s.Write([]byte(input[i:min(i+7, len(input))]))
	}
	_ = s.Close()
	lines := collect(t, buf.String())
	var got []string
	var joined string
	for _, l := range lines {
		got = append(got, l.Log)
		joined += l.Log
	}
	if joined != input {
		t.Fatalf("reconstructed %d bytes, want %d", len(joined), len(input))
	}
	want := []string{"one\n", strings.Repeat("a", protocol.MaxLogLine-1), "€tail\n", "two\n", "no-newline"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("pieces = %q", got)
	}
}

func TestLineSplitterIdleFlush(t *testing.T) {
	buf := &syncBuffer{}
	s := newLineSplitter(NewLogWriter(buf), "stderr", 20*time.Millisecond)
	_, _ = s.Write([]byte("prompt> \xe2\x82")) // ends inside "€"
	time.Sleep(100 * time.Millisecond)
	if lines := collect(t, buf.String()); len(lines) != 1 || lines[0].Log != "prompt> " || lines[0].Stream != "stderr" {
		t.Fatalf("after idle: %q", buf.String())
	}
	_, _ = s.Write([]byte("\xac!\n"))
	_ = s.Close()
	lines := collect(t, buf.String())
	if len(lines) != 2 || lines[1].Log != "€!\n" {
		t.Fatalf("lines = %+v", lines)
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{"TERM": syscall.SIGTERM, "SIGKILL": syscall.SIGKILL, "sigint": syscall.SIGINT, "9": syscall.SIGKILL, "USR1": syscall.SIGUSR1} {
		if got, err := parseSignal(in); err != nil || got != want {
			t.Errorf("parseSignal(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "NOPE", "0", "-1", "999"} {
		if _, err := parseSignal(in); err == nil {
			t.Errorf("parseSignal(%q) accepted", in)
		}
	}
}

func TestResolveUser(t *testing.T) {
	dir := t.TempDir()
	passwdFile, groupFile = filepath.Join(dir, "passwd"), filepath.Join(dir, "group")
	t.Cleanup(func() {
		passwdFile, groupFile = "/etc/passwd", "/etc/group"
		currentIDs = func() (uint32, uint32) { return uint32(os.Getuid()), uint32(os.Getgid()) }
	})
	_ = os.WriteFile(passwdFile, []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"), 0o644)
	_ = os.WriteFile(groupFile, []byte("root:x:0:\napp:x:1000:\nextra:x:2000:app\n"), 0o644)

	currentIDs = func() (uint32, uint32) { return 0, 0 }
	u, err := resolveUser("app")
	if err != nil || !u.Switch || u.UID != 1000 || u.GID != 1000 || u.Home != "/home/app" || len(u.Groups) != 1 || u.Groups[0] != 2000 {
		t.Errorf("app as root: %+v, %v", u, err)
	}
	if u, err = resolveUser("4242:extra"); err != nil || u.UID != 4242 || u.GID != 2000 || u.Home != "/" {
		t.Errorf("4242:extra: %+v, %v", u, err)
	}
	if _, err = resolveUser("nobody-here"); err == nil || !strings.Contains(err.Error(), "no matching entries in passwd file") {
		t.Errorf("unknown user: %v", err)
	}
	if u, err = resolveUser(""); err != nil || u.Switch || u.Home != "/root" {
		t.Errorf("empty: %+v, %v", u, err)
	}

	// Lambda runs the agent unprivileged: its own uid is fine, anyone else is an error.
	currentIDs = func() (uint32, uint32) { return 1000, 1000 }
	if u, err = resolveUser("app"); err != nil || u.Switch {
		t.Errorf("own user: %+v, %v", u, err)
	}
	if u, err = resolveUser("1000"); err != nil || u.Switch {
		t.Errorf("own uid: %+v, %v", u, err)
	}
	if _, err = resolveUser("root"); err == nil || !strings.Contains(err.Error(), "without privileges") {
		t.Errorf("root from unprivileged: %v", err)
	}
	if _, err = resolveUser("1000:0"); err == nil {
		t.Error("other group from unprivileged accepted")
	}
}

func TestStartErrorCodes(t *testing.T) {
	for msg, code := range map[string]int{
		`exec: "x": executable file not found in $PATH`:               127,
		`exec: "/x": permission denied`:                               126,
		`create working directory: mkdir /app: read-only file system`: 128,
		`unable to find user bob: no matching entries in passwd file`: 128,
		`working directory /etc/passwd: not a directory`:              127,
		`exec: "/x": stat /x: no such file or directory`:              127,
	} {
		if got := newStartError(msg).Code; got != code {
			t.Errorf("%s: code %d, want %d", msg, got, code)
		}
	}
}
