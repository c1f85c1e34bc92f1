package agent

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

func TestRunStdoutStderrExitCode(t *testing.T) {
	e := startAgent(t, nil)
	deadline := time.Now().Add(time.Minute)
	e.rt.push("req-1", deadline, e.invocation("/bin/sh", "-c", `printf 'out1\nout2'; printf 'err1\n' >&2; printf 'out3\n'; exit 3`))

	c := e.backend.conn(t)
	if got := c.header.Get(protocol.HeaderAuthorization); got != "Bearer tok-123" {
		t.Errorf("Authorization = %q", got)
	}
	if got := c.header.Get(protocol.HeaderContainerID); got != "c0ffee" {
		t.Errorf("container id header = %q", got)
	}
	hello := c.next(t)
	want := protocol.Message{Type: protocol.MsgHello, ProtocolVersion: protocol.Version, AgentVersion: "test-1",
		ContainerID: "c0ffee", RunID: "run-1", RequestID: "req-1", LogGroup: "/aws/lambda/fn", LogStream: "2026/01/01/[$LATEST]abc",
		DeadlineMs: deadline.UnixMilli()}
	if fmt.Sprint(hello) != fmt.Sprint(want) {
		t.Errorf("hello = %+v\nwant %+v", hello, want)
	}
	exit := c.next(t)
	if exit.Type != protocol.MsgExit || exit.ExitCode == nil || *exit.ExitCode != 3 || exit.Pid == 0 {
		t.Errorf("exit = %+v", exit)
	}
	resp := decodeResponse(t, e.rt.result(t))
	if resp.ExitCode != 3 || resp.ContainerID != "c0ffee" || resp.Error != "" {
		t.Errorf("response = %+v", resp)
	}
	if out, _ := c.output("stdout"); out != "out1\nout2out3\n" {
		t.Errorf("stdout stream = %q", out)
	}
	if out, _ := c.output("stderr"); out != "err1\n" {
		t.Errorf("stderr stream = %q", out)
	}
	c.mu.Lock()
	kinds := append([]string(nil), c.kinds...)
	c.mu.Unlock()
	slices.Sort(kinds[1:])
	if strings.Join(kinds, ",") != "control,stderr,stdout" {
		t.Errorf("streams opened: %s", kinds)
	}

	streams, rec := logOf(t, e.stdout.String())
	if streams["stdout"] != "out1\nout2out3\n" || streams["stderr"] != "err1\n" {
		t.Errorf("log streams = %q", streams)
	}
	if rec.Code != 3 || rec.ContainerID != "c0ffee" || rec.RequestID != "req-1" || rec.FinishedAt.Before(rec.StartedAt) {
		t.Errorf("exit record = %+v", rec)
	}
}

func TestRunLargeOutputByteExact(t *testing.T) {
	e := startAgent(t, nil)
	// Lines far over MaxLogLine, multibyte characters, and a last line without newline.
	script := `i=0; while [ $i -lt 3 ]; do busybox yes 'ab€cd' | busybox head -c 40000; echo; i=$((i+1)); done; ` +
		`busybox seq 1 5000; busybox seq 1 3000 >&2; printf 'tail-no-newline'`
	e.rt.push("req-1", time.Time{}, e.invocation("/bin/sh", "-c", script))
	c := e.backend.conn(t)
	resp := decodeResponse(t, e.rt.result(t))
	if resp.ExitCode != 0 {
		t.Fatalf("response = %+v", resp)
	}
	var want strings.Builder
	for range 3 {
		want.WriteString(strings.Repeat("ab€cd\n", 40000/len("ab€cd\n")+1)[:40000] + "\n")
	}
	for i := 1; i <= 5000; i++ {
		fmt.Fprintf(&want, "%d\n", i)
	}
	want.WriteString("tail-no-newline")
	var wantErr strings.Builder
	for i := 1; i <= 3000; i++ {
		fmt.Fprintf(&wantErr, "%d\n", i)
	}
	out, _ := c.output("stdout")
	errOut, _ := c.output("stderr")
	if out != want.String() {
		t.Errorf("stdout stream differs: %d bytes, want %d", len(out), want.Len())
	}
	if errOut != wantErr.String() {
		t.Errorf("stderr stream differs")
	}
	streams, _ := logOf(t, e.stdout.String())
	if streams["stdout"] != want.String() {
		t.Errorf("stdout from log differs: %d bytes, want %d", len(streams["stdout"]), want.Len())
	}
	if streams["stderr"] != wantErr.String() {
		t.Errorf("stderr from log differs")
	}
}

func TestStartFailures(t *testing.T) {
	dir := t.TempDir()
	noExec := filepath.Join(dir, "script")
	if err := os.WriteFile(noExec, []byte("#!/bin/sh\necho hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"nosuch"}, 127, `exec: "nosuch": executable file not found in $PATH`},
		{[]string{"/nosuch/x"}, 127, `exec: "/nosuch/x": stat /nosuch/x: no such file or directory`},
		{[]string{noExec}, 126, fmt.Sprintf("exec: %q: permission denied", noExec)},
		{[]string{dir}, 126, fmt.Sprintf("exec: %q: is a directory: permission denied", dir)},
	}
	e := startAgent(t, nil)
	for i, tc := range cases {
		e.rt.push(fmt.Sprint("req-", i), time.Time{}, e.invocation(tc.args...))
		c := e.backend.conn(t)
		c.next(t) // hello
		exit := c.next(t)
		if exit.ExitCode == nil || *exit.ExitCode != tc.code || exit.Error != tc.msg {
			t.Errorf("%v: exit = %+v, want code %d error %q", tc.args, exit, tc.code, tc.msg)
		}
		resp := decodeResponse(t, e.rt.result(t))
		if resp.ExitCode != tc.code || resp.Error != tc.msg {
			t.Errorf("%v: response = %+v", tc.args, resp)
		}
		if errOut, _ := c.output("stderr"); errOut != tc.msg+"\n" {
			t.Errorf("%v: stderr stream = %q", tc.args, errOut)
		}
	}
}

func TestSignalOverControl(t *testing.T) {
	e := startAgent(t, nil)
	e.rt.push("req-1", time.Time{}, e.invocation("/bin/sh", "-c", "echo ready; sleep 30"))
	c := e.backend.conn(t)
	c.next(t) // hello
	c.waitOutput(t, "stdout", "ready\n")
	c.send(protocol.Message{Type: protocol.MsgSignal, Signal: "TERM"})
	exit := c.next(t)
	if exit.ExitCode == nil || *exit.ExitCode != 128+int(syscall.SIGTERM) {
		t.Errorf("exit = %+v", exit)
	}
	if resp := decodeResponse(t, e.rt.result(t)); resp.ExitCode != 143 {
		t.Errorf("response = %+v", resp)
	}
}

func TestStdinWithEOF(t *testing.T) {
	e := startAgent(t, nil)
	inv := e.invocation("/bin/sh", "-c", "cat; echo done >&2")
	inv.Process.OpenStdin = true
	e.rt.push("req-1", time.Time{}, inv)
	c := e.backend.conn(t)
	c.next(t)
	st := c.openStdin(t)
	if _, err := st.Write([]byte("hello\nworld")); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil { // EOF for cat
		t.Fatal(err)
	}
	exit := c.next(t)
	if exit.ExitCode == nil || *exit.ExitCode != 0 {
		t.Errorf("exit = %+v", exit)
	}
	decodeResponse(t, e.rt.result(t))
	if out, _ := c.output("stdout"); out != "hello\nworld" {
		t.Errorf("stdout = %q", out)
	}
	if out, _ := c.output("stderr"); out != "done\n" {
		t.Errorf("stderr = %q", out)
	}
}

func TestNoStdinIsDevNull(t *testing.T) {
	e := startAgent(t, nil)
	e.rt.push("req-1", time.Time{}, e.invocation("/bin/sh", "-c", "cat; echo eof"))
	c := e.backend.conn(t)
	decodeResponse(t, e.rt.result(t))
	if out, _ := c.output("stdout"); out != "eof\n" {
		t.Errorf("stdout = %q", out)
	}
}

func TestTwoInvocationsAndLeftoversKilled(t *testing.T) {
	e := startAgent(t, nil)
	// The background sleep outlives the shell; it must not outlive the run.
	e.rt.push("req-1", time.Time{}, e.invocation("/bin/sh", "-c", "sleep 100 & echo $!"))
	c := e.backend.conn(t)
	resp := decodeResponse(t, e.rt.result(t))
	if resp.ExitCode != 0 {
		t.Fatalf("response = %+v", resp)
	}
	out, _ := c.output("stdout")
	var pid int
	if _, err := fmt.Sscan(out, &pid); err != nil || pid <= 0 {
		t.Fatalf("stdout %q", out)
	}
	gone := false
	for range 100 {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			gone = true
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !gone {
		t.Errorf("background process %d survived the run", pid)
	}

	inv := e.invocation("/bin/sh", "-c", "echo second; exit 5")
	inv.ContainerID = "second"
	e.rt.push("req-2", time.Time{}, inv)
	c2 := e.backend.conn(t)
	if hello := c2.next(t); hello.ContainerID != "second" || hello.RequestID != "req-2" {
		t.Errorf("hello = %+v", hello)
	}
	r2 := e.rt.result(t)
	if r2.requestID != "req-2" {
		t.Errorf("posted for %s", r2.requestID)
	}
	if resp := decodeResponse(t, r2); resp.ExitCode != 5 || resp.ContainerID != "second" {
		t.Errorf("response = %+v", resp)
	}
	if out, _ := c2.output("stdout"); out != "second\n" {
		t.Errorf("stdout = %q", out)
	}
}

func TestInvalidInvocation(t *testing.T) {
	e := startAgent(t, nil)
	e.rt.push("req-bad", time.Time{}, []byte(`{"version":1,`))
	r := e.rt.result(t)
	if r.kind != "error" || r.requestID != "req-bad" {
		t.Fatalf("posted %s for %s: %s", r.kind, r.requestID, r.body)
	}
	var body struct{ ErrorMessage, ErrorType string }
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	if body.ErrorType != ErrorTypeInvalidInvocation || body.ErrorMessage == "" {
		t.Errorf("error body = %s", r.body)
	}
	// The loop goes on.
	e.rt.push("req-2", time.Time{}, e.invocation("true"))
	if resp := decodeResponse(t, e.rt.result(t)); resp.ExitCode != 0 {
		t.Errorf("response = %+v", resp)
	}
}

func TestBackendUnreachableStillRuns(t *testing.T) {
	e := startAgent(t, func(c *Config) {
		c.Dial = DialPolicy{FirstBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Total: 200 * time.Millisecond}
	})
	inv := e.invocation("/bin/sh", "-c", "echo only-in-log; exit 7")
	inv.CallbackURL = "ws://127.0.0.1:1"
	e.rt.push("req-1", time.Time{}, inv)
	if resp := decodeResponse(t, e.rt.result(t)); resp.ExitCode != 7 {
		t.Errorf("response = %+v", resp)
	}
	streams, rec := logOf(t, e.stdout.String())
	if streams["stdout"] != "only-in-log\n" || rec.Code != 7 {
		t.Errorf("log = %q, exit %+v", streams, rec)
	}
}

func TestWrongTokenRunsLogOnly(t *testing.T) {
	e := startAgent(t, nil)
	inv := e.invocation("/bin/sh", "-c", "exit 2")
	inv.Token = "wrong"
	e.rt.push("req-1", time.Time{}, inv)
	start := time.Now()
	if resp := decodeResponse(t, e.rt.result(t)); resp.ExitCode != 2 {
		t.Errorf("response = %+v", resp)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a refused token was retried for %v", d)
	}
}

func TestDeadlineKills(t *testing.T) {
	e := startAgent(t, nil)
	e.rt.push("req-1", time.Now().Add(2*time.Second), e.invocation("/bin/sh", "-c", "echo start; sleep 30"))
	c := e.backend.conn(t)
	c.next(t)
	exit := c.next(t)
	if exit.ExitCode == nil || *exit.ExitCode != 137 || exit.Reason != "timeout" {
		t.Errorf("exit = %+v", exit)
	}
	if resp := decodeResponse(t, e.rt.result(t)); resp.ExitCode != 137 {
		t.Errorf("response = %+v", resp)
	}
	streams, rec := logOf(t, e.stdout.String())
	if streams["stdout"] != "start\n" || rec.Reason != "timeout" {
		t.Errorf("log = %q, exit %+v", streams, rec)
	}
}

func TestTty(t *testing.T) {
	e := startAgent(t, nil)
	inv := e.invocation("/bin/sh", "-c", `stty size; echo err >&2; exit 4`)
	inv.Process.Tty = true
	inv.Process.ConsoleSize = [2]uint{33, 101}
	e.rt.push("req-1", time.Time{}, inv)
	c := e.backend.conn(t)
	c.next(t)
	exit := c.next(t)
	if exit.ExitCode == nil || *exit.ExitCode != 4 {
		t.Errorf("exit = %+v", exit)
	}
	decodeResponse(t, e.rt.result(t))
	if out, _ := c.output("stdout"); out != "33 101\r\nerr\r\n" {
		t.Errorf("stdout = %q", out)
	}
	if _, ok := c.output("stderr"); ok {
		t.Error("a stderr stream was opened for a tty")
	}
}

func TestEnvWorkdirUser(t *testing.T) {
	t.Setenv("AGENT_SECRET", "leak")
	e := startAgent(t, nil)
	base := t.TempDir()
	// The process may run as another user, who must be able to enter it.
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(base, "a", "b")
	inv := e.invocation("/bin/sh", "-c", `pwd; env | sort; id -u; id -g`)
	inv.Process.Env = []string{"PATH=/usr/bin:/bin", "FOO=bar baz"}
	inv.Process.WorkingDir = dir
	if os.Getuid() == 0 {
		inv.Process.User = "65534:65533"
	}
	e.rt.push("req-1", time.Time{}, inv)
	c := e.backend.conn(t)
	if resp := decodeResponse(t, e.rt.result(t)); resp.ExitCode != 0 {
		t.Fatalf("response = %+v", resp)
	}
	out, _ := c.output("stdout")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 || lines[0] != dir {
		t.Fatalf("stdout = %q", out)
	}
	var env []string
	for _, l := range lines[1 : len(lines)-2] {
		if !strings.HasPrefix(l, "PWD=") && !strings.HasPrefix(l, "HOME=") { // the shell sets PWD; HOME as runc does
			env = append(env, l)
		}
	}
	if strings.Join(env, ",") != "FOO=bar baz,PATH=/usr/bin:/bin" {
		t.Errorf("env = %q", env)
	}
	if os.Getuid() == 0 && (lines[len(lines)-2] != "65534" || lines[len(lines)-1] != "65533") {
		t.Errorf("uid/gid = %q", lines[len(lines)-2:])
	}
}

func TestResizeBeforeAndAfterStart(t *testing.T) {
	e := startAgent(t, nil)
	inv := e.invocation("/bin/sh", "-c", `read x; stty size`)
	inv.Process.Tty = true
	inv.Process.OpenStdin = true
	inv.Process.ConsoleSize = [2]uint{10, 20}
	e.rt.push("req-1", time.Time{}, inv)
	c := e.backend.conn(t)
	c.next(t)
	st := c.openStdin(t)
	c.send(protocol.Message{Type: protocol.MsgResize, Width: 99, Height: 44})
	time.Sleep(100 * time.Millisecond) // let the resize land before the shell asks
	_, _ = st.Write([]byte("go\r"))
	decodeResponse(t, e.rt.result(t))
	if out, _ := c.output("stdout"); !strings.HasSuffix(out, "44 99\r\n") {
		t.Errorf("stdout = %q", out)
	}
}

func TestNoExitAckIsBounded(t *testing.T) {
	e := startAgent(t, func(c *Config) { c.ExitAckTimeout = 300 * time.Millisecond })
	e.backend.noAck = true
	e.rt.push("req-1", time.Time{}, e.invocation("/bin/sh", "-c", "exit 1"))
	c := e.backend.conn(t)
	c.next(t)
	if exit := c.next(t); exit.ExitCode == nil || *exit.ExitCode != 1 {
		t.Errorf("exit = %+v", exit)
	}
	if resp := decodeResponse(t, e.rt.result(t)); resp.ExitCode != 1 {
		t.Errorf("response = %+v", resp)
	}
	if !strings.Contains(e.stderr.String(), "no exitAck") {
		t.Errorf("stderr = %q", e.stderr.String())
	}
}

func TestWSSWithCACert(t *testing.T) {
	e := startAgent(t, nil)
	tlsBackend := newFakeBackendTLS(t, "tok-123", true)
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsBackend.srv.Certificate().Raw})

	inv := e.invocation("/bin/sh", "-c", "echo secure")
	inv.CallbackURL = tlsBackend.url()
	inv.CACertPEM = string(pemCert)
	e.rt.push("req-1", time.Time{}, inv)
	c := tlsBackend.conn(t)
	decodeResponse(t, e.rt.result(t))
	if out, _ := c.output("stdout"); out != "secure\n" {
		t.Errorf("stdout = %q", out)
	}

	// Without the CA the certificate is not trusted: no connection, log only.
	inv.CACertPEM = ""
	e.rt.push("req-2", time.Time{}, inv)
	if resp := decodeResponse(t, e.rt.result(t)); resp.ExitCode != 0 {
		t.Errorf("response = %+v", resp)
	}
	select {
	case <-tlsBackend.conns:
		t.Error("connected to an untrusted certificate")
	default:
	}
	if !strings.Contains(e.stderr.String(), "certificate") {
		t.Errorf("stderr = %q", e.stderr.String())
	}
}
