package agent

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// keepAlive starts a run whose main process waits, for exec tests; the
// returned func ends it.
func keepAlive(t *testing.T, e *testEnv) (*agentConn, func()) {
	t.Helper()
	e.rt.push("req-1", time.Time{}, e.invocation("/bin/sh", "-c", "exec sleep 300"))
	c := e.backend.conn(t)
	c.next(t) // hello
	recv(t, c.started)
	return c, func() {
		c.send(protocol.Message{Type: protocol.MsgSignal, Signal: "KILL"})
		decodeResponse(t, e.rt.result(t))
	}
}

func execMsg(id string, args ...string) protocol.Message {
	return protocol.Message{Type: protocol.MsgExec, ID: id, Process: &protocol.Process{
		Args: args, Env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "WHO=" + id}}}
}

// exits collects n exit messages by process ID.
func exits(t *testing.T, c *agentConn, n int) map[string]protocol.Message {
	t.Helper()
	got := map[string]protocol.Message{}
	for len(got) < n {
		m := c.next(t)
		if m.Type == protocol.MsgExit {
			got[m.ID] = m
		}
	}
	return got
}

func TestDropMidTransferResumesByteExact(t *testing.T) {
	e := startAgent(t, func(c *Config) { c.Stdout = io.Discard })
	e.backend.dropAt = 30 << 20
	const lines = 100_000 // 100 MB of numbered lines
	e.rt.push("req-1", time.Time{}, e.invocation("/bin/sh", "-c",
		fmt.Sprintf(`awk 'BEGIN{for(i=0;i<%d;i++) printf "%%010d%%0990d\n", i, 0}'`, lines)))
	first := e.backend.conn(t)
	second := e.backend.conn(t) // the redial after the drop
	if resp := decodeResponse(t, e.rt.result(t)); resp.ExitCode != 0 {
		t.Fatalf("response = %+v", resp)
	}
	if second.header.Get(protocol.HeaderRunID) != first.header.Get(protocol.HeaderRunID) {
		t.Error("the redial is for another run")
	}
	out, _ := second.output(protocol.StreamStdout)
	var want strings.Builder
	want.Grow(lines * 1001)
	for i := range lines {
		fmt.Fprintf(&want, "%010d%0990d\n", i, 0)
	}
	if out != want.String() {
		i := 0
		for i < len(out) && i < want.Len() && out[i] == want.String()[i] {
			i++
		}
		t.Fatalf("stdout differs: %d bytes, want %d; first difference at %d", len(out), want.Len(), i)
	}
	if !strings.Contains(e.stderr.String(), "redialling") {
		t.Errorf("agent did not report the drop: %s", e.stderr.String())
	}
}

func TestFiftyConcurrentExecs(t *testing.T) {
	e := startAgent(t, nil)
	c, stop := keepAlive(t, e)
	dir := t.TempDir()
	const n = 50
	for i := range n {
		m := execMsg(fmt.Sprint("x", i), "/bin/sh", "-c", `echo "$WHO $(pwd)"; echo err-$WHO >&2; exit $0`, fmt.Sprint(i))
		m.Process.WorkingDir = dir
		c.send(m)
	}
	got := exits(t, c, n)
	for i := range n {
		id := fmt.Sprint("x", i)
		m := got[id]
		if m.ExitCode == nil || *m.ExitCode != i {
			t.Errorf("%s: exit %+v", id, m)
		}
		if out, _ := c.outputOf(id, protocol.StreamStdout); out != id+" "+dir+"\n" {
			t.Errorf("%s: stdout %q", id, out)
		}
		if out, _ := c.outputOf(id, protocol.StreamStderr); out != "err-"+id+"\n" {
			t.Errorf("%s: stderr %q", id, out)
		}
	}
	stop()
	// Exec output is not the container's: docker logs shows only the main process.
	if strings.Contains(e.stdout.String(), "err-x") {
		t.Error("exec output reached the container's log")
	}
}

func TestExitCodesAndSignalDeaths(t *testing.T) {
	e := startAgent(t, nil)
	c, stop := keepAlive(t, e)
	want := map[string]int{}
	msgs := map[string]protocol.Message{}
	pending := map[string]bool{}
	for code := range 256 {
		id := fmt.Sprint("code", code)
		want[id] = code
		msgs[id] = execMsg(id, "/bin/sh", "-c", "exit "+fmt.Sprint(code))
	}
	// Every signal whose default action ends the process: 128+N, as Docker.
	for sig := syscall.Signal(1); sig < 32; sig++ {
		switch sig {
		case syscall.SIGCHLD, syscall.SIGCONT, syscall.SIGSTOP, syscall.SIGTSTP, syscall.SIGTTIN,
			syscall.SIGTTOU, syscall.SIGURG, syscall.SIGWINCH:
			continue
		}
		id := fmt.Sprint("sig", int(sig))
		want[id] = 128 + int(sig)
		msgs[id] = execMsg(id, "/bin/sh", "-c", fmt.Sprintf("kill -%d $$", sig))
	}
	got := map[string]protocol.Message{}
	for id := range want {
		for len(pending) >= 32 { // keep the machine responsive: 32 at a time
			for k, m := range exits(t, c, 1) {
				got[k] = m
				delete(pending, k)
			}
		}
		c.send(msgs[id])
		pending[id] = true
	}
	for k, m := range exits(t, c, len(pending)) {
		got[k] = m
	}
	for id, code := range want {
		if m := got[id]; m.ExitCode == nil || *m.ExitCode != code {
			t.Errorf("%s: exit %+v, want %d", id, m, code)
		}
	}
	stop()
}

func TestEverySignalReachesTheProcess(t *testing.T) {
	e := startAgent(t, nil)
	var sigs []int
	var script strings.Builder
	for sig := 1; sig < 32; sig++ {
		if sig == int(syscall.SIGKILL) || sig == int(syscall.SIGSTOP) {
			continue // cannot be caught: KILL ends the run below, STOP is pause
		}
		sigs = append(sigs, sig)
		fmt.Fprintf(&script, "trap 'echo got %d' %d; ", sig, sig)
	}
	script.WriteString("echo ready; while :; do sleep 0.05; done")
	e.rt.push("req-1", time.Time{}, e.invocation("/bin/sh", "-c", script.String()))
	c := e.backend.conn(t)
	c.waitOutput(t, protocol.StreamStdout, "ready\n")
	for _, sig := range sigs {
		name := unix.SignalName(syscall.Signal(sig))
		c.send(protocol.Message{Type: protocol.MsgSignal, Signal: name})
		c.waitOutput(t, protocol.StreamStdout, fmt.Sprintf("got %d\n", sig))
	}
	c.send(protocol.Message{Type: protocol.MsgSignal, Signal: "9"})
	if resp := decodeResponse(t, e.rt.result(t)); resp.ExitCode != 137 {
		t.Errorf("response = %+v", resp)
	}
}

func TestExecTTYResizeAndStdinEOF(t *testing.T) {
	e := startAgent(t, nil)
	c, stop := keepAlive(t, e)

	m := execMsg("tty", "/bin/sh", "-c", "read x; stty size")
	m.Process.Tty, m.Process.OpenStdin, m.Process.ConsoleSize = true, true, [2]uint{10, 20}
	c.send(m)
	recv(t, c.started)
	c.send(protocol.Message{Type: protocol.MsgResize, ID: "tty", Width: 120, Height: 40})
	time.Sleep(100 * time.Millisecond) // let the resize land before the shell asks
	st := c.openStdinOf(t, "tty")
	_, _ = st.Write([]byte("go\r"))

	in := execMsg("cat", "/bin/sh", "-c", "cat; echo done")
	in.Process.OpenStdin = true
	c.send(in)
	cat := c.openStdinOf(t, "cat")
	_, _ = cat.Write([]byte("line1\nline2"))
	_ = cat.Close() // EOF: cat ends, the shell goes on

	got := exits(t, c, 2)
	if out, _ := c.outputOf("tty", protocol.StreamStdout); !strings.HasSuffix(out, "40 120\r\n") || *got["tty"].ExitCode != 0 {
		t.Errorf("tty exec: stdout %q exit %+v", out, got["tty"])
	}
	if out, _ := c.outputOf("cat", protocol.StreamStdout); out != "line1\nline2done\n" {
		t.Errorf("cat exec: stdout %q", out)
	}
	stop()
}

func TestExecStartFailures(t *testing.T) {
	e := startAgent(t, nil)
	c, stop := keepAlive(t, e)
	c.send(execMsg("missing", "nosuch"))
	c.send(execMsg("dir", "/"))
	got := exits(t, c, 2)
	if *got["missing"].ExitCode != 127 || *got["dir"].ExitCode != 126 {
		t.Errorf("exits = %+v", got)
	}
	if out, _ := c.outputOf("missing", protocol.StreamStderr); !strings.Contains(out, "executable file not found") {
		t.Errorf("stderr = %q", out)
	}
	stop()
}

// archive runs one file operation as the backend does.
func archiveOp(t *testing.T, c *agentConn, h protocol.StreamHeader, body []byte) (protocol.ArchiveReply, []byte) {
	t.Helper()
	h.Kind = protocol.StreamArchive
	st := c.open(t, h)
	if body != nil {
		_, _ = st.Write(body)
	}
	_ = st.Close()
	br := bufio.NewReader(st)
	line, err := br.ReadBytes('\n')
	if err != nil {
		t.Fatal(err)
	}
	var r protocol.ArchiveReply
	if err := json.Unmarshal(line, &r); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(br)
	return r, rest
}

func TestArchivePutStatGet(t *testing.T) {
	e := startAgent(t, nil)
	c, stop := keepAlive(t, e)
	dir := t.TempDir()

	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	_ = tw.WriteHeader(&tar.Header{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755})
	_ = tw.WriteHeader(&tar.Header{Name: "d/f.txt", Typeflag: tar.TypeReg, Mode: 0o640, Size: 5})
	_, _ = tw.Write([]byte("hello"))
	_ = tw.Close()
	if r, _ := archiveOp(t, c, protocol.StreamHeader{Op: protocol.ArchivePut, Path: dir}, tb.Bytes()); r.Error != "" {
		t.Fatalf("put: %+v", r)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "d", "f.txt")); err != nil || string(b) != "hello" {
		t.Fatalf("extracted %q, %v", b, err)
	}

	r, _ := archiveOp(t, c, protocol.StreamHeader{Op: protocol.ArchiveStat, Path: filepath.Join(dir, "d", "f.txt")}, nil)
	if r.Stat == nil || r.Stat.Name != "f.txt" || r.Stat.Size != 5 || os.FileMode(r.Stat.Mode).Perm() != 0o640 {
		t.Errorf("stat = %+v", r)
	}
	r, body := archiveOp(t, c, protocol.StreamHeader{Op: protocol.ArchiveGet, Path: filepath.Join(dir, "d")}, nil)
	if r.Stat == nil || !os.FileMode(r.Stat.Mode).IsDir() {
		t.Fatalf("get: %+v", r)
	}
	tr := tar.NewReader(bytes.NewReader(body))
	var names []string
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names = append(names, h.Name)
	}
	if strings.Join(names, ",") != "d/,d/f.txt" {
		t.Errorf("tar entries = %q", names)
	}
	if r, _ := archiveOp(t, c, protocol.StreamHeader{Op: protocol.ArchiveStat, Path: "/nosuch"}, nil); r.ErrorKind != protocol.ErrNotFound {
		t.Errorf("missing path: %+v", r)
	}
	if r, _ := archiveOp(t, c, protocol.StreamHeader{Op: protocol.ArchivePut, Path: "/proc/self"}, tb.Bytes()); r.Error == "" {
		t.Errorf("put into /proc succeeded: %+v", r)
	}
	stop()
}

func TestTopPauseUnpause(t *testing.T) {
	e := startAgent(t, nil)
	c, stop := keepAlive(t, e)
	var top protocol.Message
	for i := 0; ; i++ { // until the shell has exec'd sleep
		c.send(protocol.Message{Type: protocol.MsgTop, Req: fmt.Sprint("r", i)})
		top = recv(t, c.replies)
		if top.Req == fmt.Sprint("r", i) && top.Top != nil && len(top.Top.Processes) == 1 && top.Top.Processes[0][7] == "sleep 300" {
			break
		}
		if i == 50 {
			t.Fatalf("top = %+v", top.Top)
		}
		time.Sleep(20 * time.Millisecond)
	}
	pid := top.Top.Processes[0][1]
	state := func() string {
		b, _ := os.ReadFile("/proc/" + pid + "/stat")
		s := string(b)
		return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0]
	}
	c.send(protocol.Message{Type: protocol.MsgPause, Req: "p"})
	recv(t, c.replies)
	for i := 0; state() != "T"; i++ { // SIGSTOP lands asynchronously
		if i == 100 {
			t.Fatalf("paused process state %q", state())
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.send(protocol.Message{Type: protocol.MsgUnpause, Req: "u"})
	recv(t, c.replies)
	if s := state(); s == "T" {
		t.Errorf("unpaused process state %q", s)
	}
	stop()
}

func TestHoldStartAndCleanDirs(t *testing.T) {
	tmp := t.TempDir()
	e := startAgent(t, func(c *Config) { c.CleanDirs = []string{tmp} })
	if err := os.WriteFile(filepath.Join(tmp, "left-over"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	inv := e.invocation("/bin/sh", "-c", "cat "+filepath.Join(tmp, "f"))
	inv.HoldStart = true
	e.rt.push("req-1", time.Time{}, inv)
	c := e.backend.conn(t)
	c.next(t)
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	_ = tw.WriteHeader(&tar.Header{Name: "f", Typeflag: tar.TypeReg, Mode: 0o644, Size: 6})
	_, _ = tw.Write([]byte("staged"))
	_ = tw.Close()
	if r, _ := archiveOp(t, c, protocol.StreamHeader{Op: protocol.ArchivePut, Path: tmp}, tb.Bytes()); r.Error != "" {
		t.Fatalf("put: %+v", r)
	}
	c.send(protocol.Message{Type: protocol.MsgStart})
	if resp := decodeResponse(t, e.rt.result(t)); resp.ExitCode != 0 {
		t.Fatalf("response = %+v", resp)
	}
	if out, _ := c.output(protocol.StreamStdout); out != "staged" {
		t.Errorf("stdout = %q", out)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("left in the cleaned dir: %v", entries)
	}
}

// dropReader is a stdin source that drops the connection once, after at bytes.
type dropReader struct {
	r    io.Reader
	at   int64
	n    int64
	drop func()
}

func (d *dropReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	before := d.n
	d.n += int64(n)
	if d.drop != nil && before < d.at && d.n >= d.at {
		d.drop()
		d.drop = nil
	}
	return n, err
}

func TestStdinDropMidTransferResumesByteExact(t *testing.T) {
	data := make([]byte, 20<<20)
	_, _ = rand.New(rand.NewSource(1)).Read(data)
	for _, tc := range []struct {
		name       string
		args       []string
		dropStdin  bool  // drop when the backend has read half the input
		dropOutput int64 // drop when this much output arrived
		want       string
	}{
		{"sha256sum", []string{"sha256sum"}, true, 0, fmt.Sprintf("%x  -\n", sha256.Sum256(data))},
		{"cat", []string{"cat"}, false, 10 << 20, string(data)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startAgent(t, func(c *Config) { c.Stdout = io.Discard })
			src := &dropReader{r: bytes.NewReader(data), at: int64(len(data) / 2)}
			if tc.dropStdin {
				src.drop = e.backend.dropCurrent
			}
			e.backend.stdinSrc = src
			e.backend.dropAt = tc.dropOutput
			inv := e.invocation(tc.args...)
			inv.Process.OpenStdin = true
			e.rt.push("req-1", time.Time{}, inv)
			e.backend.conn(t)
			second := e.backend.conn(t) // the redial after the drop
			if resp := decodeResponse(t, e.rt.result(t)); resp.ExitCode != 0 {
				t.Fatalf("response = %+v", resp)
			}
			if out, _ := second.output(protocol.StreamStdout); out != tc.want {
				i := 0
				for i < len(out) && i < len(tc.want) && out[i] == tc.want[i] {
					i++
				}
				t.Fatalf("stdout differs: %d bytes, want %d; first difference at %d", len(out), len(tc.want), i)
			}
			if !strings.Contains(e.stderr.String(), "redialling") {
				t.Errorf("agent did not report the drop: %s", e.stderr.String())
			}
		})
	}
}
