package agent

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// The titles are procps-ng 4's, checked against `ps` on a Debian host.
func TestPSTitles(t *testing.T) {
	ef := "UID PID PPID C STIME TTY TIME CMD"
	aux := "USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND"
	bsd := "PID TTY STAT TIME COMMAND"
	for _, tc := range []struct{ args, titles string }{
		{"", ef},
		{"-ef", ef},
		{"-f", ef},
		{"-e", "PID TTY TIME CMD"},
		{"-A", "PID TTY TIME CMD"},
		{"aux", aux},
		{"-aux", aux}, // not a user "x": read as BSD aux, as procps does
		{"au", aux},
		{"ux", aux},
		{"auxww", aux},
		{"x", bsd},
		{"-x", bsd},
		{"ax", bsd},
		{"-e w", bsd},
		{"-F", "UID PID PPID C SZ RSS PSR STIME TTY TIME CMD"},
		{"-l", "F S UID PID PPID C PRI NI ADDR SZ WCHAN TTY TIME CMD"},
		{"-efl", "F S UID PID PPID C PRI NI ADDR SZ WCHAN STIME TTY TIME CMD"},
		{"-ly", "S UID PID PPID C PRI NI RSS SZ WCHAN TTY TIME CMD"},
		{"-j", "PID PGID SID TTY TIME CMD"},
		{"-fj", "UID PID PPID PGID SID C STIME TTY TIME CMD"},
		{"-ec", "PID CLS PRI TTY TIME CMD"},
		{"-L", "PID LWP TTY TIME CMD"},
		{"-fL", "UID PID PPID LWP C NLWP STIME TTY TIME CMD"},
		{"-T", "PID SPID TTY TIME CMD"},
		{"-M", "LABEL PID TTY TIME CMD"},
		{"j", "PPID PID PGID SID TTY TPGID STAT UID TIME COMMAND"},
		{"l", "F UID PID PPID PRI NI VSZ RSS WCHAN STAT TTY TIME COMMAND"},
		{"s", "UID PID PENDING BLOCKED IGNORED CAUGHT STAT TTY TIME COMMAND"},
		{"v", "PID TTY STAT TIME MAJFL TRS DRS RSS %MEM COMMAND"},
		{"auxf", aux},
		{"-O tty", "PID TT S TTY TIME COMMAND"},
		{"O tty", "PID TT S TTY TIME COMMAND"},
		{"-o pid,comm,args", "PID COMMAND COMMAND"},
		{"-opid,cmd", "PID CMD"},
		{"o pid,ucmd", "PID CMD"},
		{"--format=pid,fname", "PID COMMAND"},
		{"--format pid,ucomm", "PID COMMAND"},
		{"-o pid -o comm=Name -o ppid=", "PID Name "},
		{"-o pid,user:3=U", "PID U"},
		{"-o pid,comm,", "PID COMMAND"},
		{"-o pid,ppid,pgid,sid,uid,user,gid,group,comm", "PID PPID PGID SID UID USER GID GROUP COMMAND"},
		{"-o pid,etime,etimes,time,cputime,rss,vsz,stat,state,ni,nice,pri,tty",
			"PID ELAPSED ELAPSED TIME TIME RSS VSZ STAT S NI NI PRI TT"},
		{"-o pid,%cpu,pcpu,%mem,pmem,lstart,start,nlwp,thcount,args,cmd,command",
			"PID %CPU %CPU %MEM %MEM STARTED STARTED NLWP THCNT COMMAND CMD COMMAND"},
		{"-o pid,stime,start_time,bsdstart,bsdtime,tname,tt,c,cp,opri,priority",
			"PID STIME START START TIME TTY TT C CP PRI PRI"},
		{"-o pid,euid,ruid,suid,svuid,fuid,euser,ruser,suser,fuser,egid,rgid,sgid,fgid,egroup,rgroup,sgroup,fgroup",
			"PID EUID RUID SUID SVUID FUID EUSER RUSER SUSER FUSER EGID RGID SGID FGID EGROUP RGROUP SGROUP FGROUP"},
		{"-o pid,tpgid,sess,pgrp,lwp,spid,tid,tgid,psr,f,wchan,label,cls,policy,rtprio,sched",
			"PID TPGID SESS PGRP LWP SPID TID TGID PSR F WCHAN LABEL CLS POL RTPRIO SCH"},
		{"-o pid,majflt,minflt,maj_flt,min_flt,trs,drs,sz,rsz,pending,blocked,ignored,caught",
			"PID MAJFLT MINFLT MAJFL MINFL TRS DRS SZ RSZ PENDING BLOCKED IGNORED CAUGHT"},
		{"-o pid,comm --sort -pid", "PID COMMAND"},
		{"--context", "PID CONTEXT COMMAND"},
	} {
		top, err := psTop(tc.args, []int{os.Getpid()})
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if got := strings.Join(top.Titles, " "); got != tc.titles {
			t.Errorf("%q: titles %q, want %q", tc.args, got, tc.titles)
		}
		for _, row := range top.Processes {
			if len(row) != len(top.Titles) {
				t.Errorf("%q: row %q has %d columns for %d titles", tc.args, row, len(row), len(top.Titles))
			}
		}
		if len(top.Processes) == 0 {
			t.Errorf("%q: the test process is not listed", tc.args)
		}
	}
}

// The test process itself, as ps shows it.
func TestPSTheTestProcess(t *testing.T) {
	pid, ppid := strconv.Itoa(os.Getpid()), strconv.Itoa(os.Getppid())
	b, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Fatal(err)
	}
	comm, args := strings.TrimSpace(string(b)), strings.Join(os.Args, " ")
	row := func(psArgs string) []string {
		t.Helper()
		top, err := psTop(psArgs, []int{os.Getpid()})
		if err != nil {
			t.Fatalf("%q: %v", psArgs, err)
		}
		if len(top.Processes) != 1 {
			t.Fatalf("%q: %d rows, want 1: %q", psArgs, len(top.Processes), top.Processes)
		}
		return top.Processes[0]
	}

	if got, want := row("-o pid,ppid,comm,args"), []string{pid, ppid, comm, args}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("-o pid,ppid,comm,args = %q, want %q", got, want)
	}
	if got := row("-o pid,comm=Name,cmd"); got[1] != comm || got[2] != args {
		t.Errorf("-o pid,comm=Name,cmd = %q", got)
	}

	ef := row("-ef") // UID PID PPID C STIME TTY TIME CMD
	if ef[1] != pid || ef[2] != ppid || ef[7] != args {
		t.Errorf("-ef = %q", ef)
	}
	if !regexp.MustCompile(`^(\d\d:\d\d|[A-Z][a-z][a-z]\d\d|\d{4})$`).MatchString(ef[4]) {
		t.Errorf("-ef STIME %q", ef[4])
	}
	if !regexp.MustCompile(`^\d\d:\d\d:\d\d$`).MatchString(ef[6]) {
		t.Errorf("-ef TIME %q", ef[6])
	}
	if e := row("-e"); strings.Join(e, "|") != pid+"|"+ef[5]+"|"+ef[6]+"|"+comm {
		t.Errorf("-e = %q (-ef %q)", e, ef)
	}

	aux := row("aux") // USER PID %CPU %MEM VSZ RSS TTY STAT START TIME COMMAND
	if aux[1] != pid || aux[10] != args {
		t.Errorf("aux = %q", aux)
	}
	if aux[0] != ef[0] {
		t.Errorf("aux USER %q, -ef UID %q", aux[0], ef[0])
	}
	for i, re := range map[int]string{
		2: `^\d+(\.\d)?$`, // above 99.9 %CPU has no decimal
		3: `^\d+\.\d$`, 4: `^[1-9]\d*$`, 5: `^[1-9]\d*$`,
		7: `^[RSD][<N]?L?s?l\+?$`, // a Go test binary has threads
		8: `^(\d\d:\d\d|[A-Z][a-z][a-z]\d\d|\d{4})$`, 9: `^\d+:\d\d$`,
	} {
		if !regexp.MustCompile(re).MatchString(aux[i]) {
			t.Errorf("aux column %d = %q, want %s", i, aux[i], re)
		}
	}
	if n, _ := strconv.Atoi(aux[5]); n > 0 {
		if vsz, _ := strconv.Atoi(aux[4]); vsz < n {
			t.Errorf("aux VSZ %d < RSS %d", vsz, n)
		}
	}

	o := row("-o pid,nlwp,thcount,uid,gid,etimes,stat,state")
	if o[0] != pid || o[1] != o[2] || o[3] != strconv.Itoa(os.Getuid()) || o[4] != strconv.Itoa(os.Getgid()) {
		t.Errorf("-o pid,nlwp,thcount,uid,gid,... = %q", o)
	}
	if n, _ := strconv.Atoi(o[1]); n < 2 {
		t.Errorf("NLWP %q of a Go process", o[1])
	}
	if o[7] != o[6][:1] {
		t.Errorf("S %q, STAT %q", o[7], o[6])
	}

	// One row per thread with -L, the PID repeated and the LWP the thread's.
	top, err := psTop("-L -o pid,lwp,comm", []int{os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if len(top.Processes) < 2 || top.Processes[0][0] != pid || top.Processes[0][1] != pid || top.Processes[1][0] != pid {
		t.Errorf("-L = %q", top.Processes)
	}
}

func TestPSSelectionSortAndForest(t *testing.T) {
	cmd := exec.Command("/bin/sh", "-c", "sleep 300 & sleep 301 & wait")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var kids []int
	for i := 0; len(kids) < 2; i++ {
		if i == 100 {
			t.Fatalf("the shell's children: %v", kids)
		}
		time.Sleep(20 * time.Millisecond)
		kids = descendants(cmd.Process.Pid)
	}
	defer func() {
		for _, k := range kids {
			_ = syscallKill(k)
		}
	}()
	sh := cmd.Process.Pid
	pids := append([]int{sh}, kids...)
	lines := func(psArgs string) string {
		t.Helper()
		top, err := psTop(psArgs, pids)
		if err != nil {
			t.Fatalf("%q: %v", psArgs, err)
		}
		var out []string
		for _, r := range top.Processes {
			out = append(out, strings.Join(r, " "))
		}
		return strings.Join(out, "\n")
	}
	s, k0, k1 := strconv.Itoa(sh), strconv.Itoa(kids[0]), strconv.Itoa(kids[1])
	if kids[0] > kids[1] {
		k0, k1 = k1, k0
	}
	for _, tc := range []struct{ args, want string }{
		{"-o pid,args", s + " /bin/sh -c sleep 300 & sleep 301 & wait\n" + k0 + " sleep 300\n" + k1 + " sleep 301"},
		{"-o pid,comm -p " + k1, k1 + " sleep"},
		{"-o pid,comm -p " + s + "," + k1, s + " sh\n" + k1 + " sleep"},
		{"-o pid,comm --pid=" + k0, k0 + " sleep"},
		{"-o pid,comm " + k0, k0 + " sleep"}, // a PID after the options, BSD style
		{"-o pid,comm -C sleep", k0 + " sleep\n" + k1 + " sleep"},
		{"-o pid,comm -N -C sleep", s + " sh"},
		{"-o pid,comm --ppid " + s, k0 + " sleep\n" + k1 + " sleep"},
		{"-o pid,comm -N", ""},
		{"-o pid,comm r", ""}, // running ones only: all sleep
		{"-o pid,comm --sort -pid", k1 + " sleep\n" + k0 + " sleep\n" + s + " sh"},
		{"-o pid,comm k comm,-pid", s + " sh\n" + k1 + " sleep\n" + k0 + " sleep"},
		{"f -o pid,args", s + " /bin/sh -c sleep 300 & sleep 301 & wait\n" + k0 + ` \_ sleep 300` + "\n" + k1 + ` \_ sleep 301`},
		{"-o pid,ppid,comm -H", s + " " + strconv.Itoa(os.Getpid()) + " sh\n" + k0 + " " + s + " sleep\n" + k1 + " " + s + " sleep"},
	} {
		if got := lines(tc.args); got != tc.want {
			t.Errorf("%q:\n%s\nwant\n%s", tc.args, got, tc.want)
		}
	}
}

func syscallKill(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// Errors read as dockerd's when ps fails, and name what is not supported.
func TestPSErrors(t *testing.T) {
	for _, tc := range []struct{ args, want string }{
		{"-o bogus", `ps: error: unknown user-defined format specifier "bogus"`},
		{"-o pid,comm=X,Y", `ps: error: unknown user-defined format specifier "Y"`},
		{"-o pid,,comm", "ps: error: improper format list"},
		{"-o pid:0", "ps: error: column widths must be unsigned decimal numbers"},
		{"-o", "ps: error: format specification must follow -o"},
		{"u -f", "ps: error: conflicting format options"},
		{"-F -o pid", "ps: error: conflicting format options"},
		{"-y", "ps: error: modifier -y without format -l makes no sense"},
		{"-Q", "ps: error: unsupported SysV option"},
		{"Q", "ps: error: unsupported option (BSD syntax)"},
		{"--foo", "ps: error: unknown gnu long option"},
		{"W", "ps: error: obsolete W option not supported (you have a /dev/drum?)"},
		{"-L -T", "ps: error: thread flags conflict; can't use both -L and -T"},
		{"-L f", "ps: error: thread display conflicts with forest display"},
		{"-o comm -O pid", "ps: error: option -O can not follow other format options"},
		{"-p x", "ps: error: process ID list syntax error"},
		{"-u nosuchuser", "ps: error: user name does not exist"},
		{"-- pid", "ps: error: garbage option"},
		{"-o pid --sort bogus", "ps: error: unknown sort specifier"},
		{"-V -f", "ps: error: the option is exclusive: -V"},
		// dockerd's own checks
		{"-o pid,ppid=PID", `specifying "pid,ppid=PID" is not allowed`},
		{"-o comm", "Couldn't find PID field in ps output"},
		{"-o pid=Process", "Couldn't find PID field in ps output"},
		{"-o pid=,comm=", "Couldn't find PID field in ps output"},
		{"h", "Couldn't find PID field in ps output"},
		{"aux --no-headers", "Couldn't find PID field in ps output"},
		{"-V", "Couldn't find PID field in ps output"}, // ps prints its version
	} {
		_, err := psTop(tc.args, []int{os.Getpid()})
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.want)
		}
	}
	if _, err := psTop("-o comm", nil); !errors.Is(err, errNoPID) {
		t.Errorf("-o comm: %v", err)
	}
	// What procps has and this ps does not: the error names it.
	for args, name := range map[string]string{
		"m":                   `m`,
		"-m":                  `-m`,
		"-o pid,cgroup":       `"cgroup"`,
		"-o %p%c":             `%p%c`,
		"O p":                 `O p`,
		"X":                   `X`,
		"--sort pid,cgroup":   `"cgroup"`,
		"-o pid,lstart -D %F": `-D`,
	} {
		_, err := psTop(args, []int{os.Getpid()})
		if err == nil || !strings.HasPrefix(err.Error(), "ps: error: ") || !strings.Contains(err.Error(), "is not supported") ||
			!strings.Contains(err.Error(), name) {
			t.Errorf("%q: error %v, want one naming %s as not supported", args, err, name)
		}
	}
}

// Formatting, on a process made up: times, states, names cut as ps cuts them.
func TestPSFormatting(t *testing.T) {
	now := time.Now()
	c := &psContext{
		now: now, uptime: 3 * 86400, boot: now.Unix() - 3*86400, memKiB: 1000, memRead: true,
		users:  map[uint32]string{993: "sbx_user1051"},
		groups: map[uint32]string{993: "sbx_user1051"},
	}
	p := &psProc{
		dir: "/nonexistent", pid: 7, tid: 7, comm: "worker", state: 'S', ppid: 1, pgrp: 7, sid: 7, tpgid: 7,
		utime: 30000, stime: 10000, priority: 15, nice: -5, nlwp: 3, vmRSS: 250, vmSize: 4096, vmLck: 0,
		start: uint64((3*86400 - (86400 + 2*3600 + 3*60 + 4)) * clockTicks), // started 1 day 2:03:04 ago
		uids:  [4]uint32{993, 993, 993, 993}, gids: [4]uint32{993, 993, 993, 993},
		cmdline: []byte("worker\x00--flag\x00va\x01ue\x00"),
	}
	cells := func(psArgs string) []string {
		t.Helper()
		spec, err := parsePS(strings.Split(psArgs, " "))
		if err != nil {
			t.Fatalf("%q: %v", psArgs, err)
		}
		c.spec = spec
		return c.row(p)
	}
	check := func(psArgs string, want ...string) {
		t.Helper()
		if got := cells(psArgs); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%q = %q, want %q", psArgs, got, want)
		}
	}
	check("-o etime,etimes,time,times,bsdtime", "1-02:03:04", "93784", "00:06:40", "400", "6:40")
	check("-o stat,state,ni,pri,opri,priority,nlwp", "S<sl+", "S", "-5", "24", "75", "15", "3")
	check("-o pmem,rss,vsz,sz", "25.0", "250", "4096", "1024")
	// 400 s of CPU over 93784 s
	check("-o pcpu,c,cp", "0.4", "0", "4")
	check("-o args,comm", "worker --flag va?ue", "worker")
	check("c -o args", "worker")
	// a user name longer than its column is cut with a '+', unless the column is the last
	check("-o user,pid", "sbx_use+", "7")
	check("-o pid,user", "7", "sbx_user1051")
	check("-o user:12,group=LongGroupName,pid", "sbx_user1051", "sbx_user1051", "7")
	check("n -o user,pid", "993", "7")
	check("-o args,pid", "worker --flag va?ue", "7")
	check("-o args:6,pid", "worker", "7")
	// start times: one day ago shows the date, as procps does
	start := time.Unix(c.boot+int64(p.start/clockTicks), 0)
	stime := start.Format("Jan02")
	if start.Year() != now.Year() {
		stime = start.Format("2006")
	}
	check("-o stime,start,bsdstart,lstart", stime, start.Format("Jan 02"), start.Format("Jan _2"), start.Format("Mon Jan _2 15:04:05 2006"))
	p.start = uint64((3*86400 - 60) * clockTicks) // a minute ago
	start = time.Unix(c.boot+int64(p.start/clockTicks), 0)
	if start.YearDay() == now.YearDay() {
		check("-o stime,start_time,start,bsdstart", start.Format("15:04"), start.Format("15:04"), start.Format("15:04:05"), start.Format("15:04"))
	}
	check("-o etime", "01:00")
}

func TestTTYName(t *testing.T) {
	for nr, want := range map[int64]string{0: "?", 136<<8 | 3: "pts/3", 137<<8 | 1: "pts/257", 4<<8 | 1: "tty1", 4<<8 | 65: "ttyS1", 5<<8 | 1: "console"} {
		if got := ttyName(nr); got != want {
			t.Errorf("ttyName(%#x) = %q, want %q", nr, got, want)
		}
	}
}

// MsgTop carries ps_args as psArgs, left out when empty: an old backend's
// request and an old agent's reading of a new one stay as they were.
func TestTopMessageCompatibility(t *testing.T) {
	b, _ := json.Marshal(protocol.Message{Type: protocol.MsgTop, Req: "r"})
	if string(b) != `{"type":"top","req":"r"}` {
		t.Errorf("top without ps_args = %s", b)
	}
	b, _ = json.Marshal(protocol.Message{Type: protocol.MsgTop, Req: "r", PsArgs: "aux"})
	var m protocol.Message
	if err := json.Unmarshal(b, &m); err != nil || m.PsArgs != "aux" || !strings.Contains(string(b), `"psArgs":"aux"`) {
		t.Errorf("top with ps_args = %s (%+v, %v)", b, m, err)
	}
}

// Through the agent's control stream, as the backend asks.
func TestTopWithPsArgs(t *testing.T) {
	e := startAgent(t, nil)
	c, stop := keepAlive(t, e)
	defer stop()
	ask := func(req, psArgs string) protocol.Message {
		t.Helper()
		c.send(protocol.Message{Type: protocol.MsgTop, Req: req, PsArgs: psArgs})
		for {
			if m := recv(t, c.replies); m.Req == req {
				return m
			}
		}
	}
	var r protocol.Message
	for i := 0; ; i++ { // until the shell has exec'd sleep
		r = ask("o"+strconv.Itoa(i), "-o pid,comm,args")
		if r.Top != nil && len(r.Top.Processes) == 1 && r.Top.Processes[0][2] == "sleep 300" {
			break
		}
		if i == 50 {
			t.Fatalf("top = %+v", r)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := strings.Join(r.Top.Titles, " "); got != "PID COMMAND COMMAND" || r.Top.Processes[0][1] != "sleep" {
		t.Errorf("-o pid,comm,args = %q %q", got, r.Top.Processes)
	}
	if r = ask("aux", "aux"); r.Error != "" || len(r.Top.Titles) != 11 || r.Top.Titles[10] != "COMMAND" ||
		len(r.Top.Processes) != 1 || r.Top.Processes[0][10] != "sleep 300" {
		t.Errorf("aux = %+v", r)
	}
	if r = ask("def", ""); r.Error != "" || strings.Join(r.Top.Titles, " ") != "UID PID PPID C STIME TTY TIME CMD" {
		t.Errorf("no ps_args = %+v", r)
	}
	if r = ask("bogus", "-o bogus"); r.Top != nil || !strings.Contains(r.Error, `"bogus"`) {
		t.Errorf("-o bogus = %+v", r)
	}
}
