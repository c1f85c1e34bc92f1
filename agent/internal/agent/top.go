package agent

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// clockTicks is USER_HZ, which is 100 on every Linux architecture Lambda runs.
const clockTicks = 100

// `docker top CONTAINER [ps OPTIONS]`: dockerd runs `ps <ps_args>` (default
// -ef) on the host and keeps the rows of the container's processes. The image
// may have no ps, and the agent cannot see a host, so the agent plays procps
// ps itself: the options are parsed as procps-ng 4 parses them (its two
// passes, SysV then BSD, and its error messages), the columns and their
// headers are procps's, and the values are read from /proc and formatted as
// procps formats them. Cells hold what dockerd's JSON holds: the text of the
// column without the padding.

// errNoPID is dockerd's answer when ps printed no PID column (or no header).
var errNoPID = errors.New("Couldn't find PID field in ps output")

// listProcesses answers MsgTop: the container's processes (everything below
// the agent), as `ps psArgs` shows them.
func listProcesses(psArgs string) (*protocol.Top, error) {
	return psTop(psArgs, descendants(os.Getpid()))
}

// psTop lists pids as `ps psArgs` shows them under dockerd.
func psTop(psArgs string, pids []int) (*protocol.Top, error) {
	if psArgs == "" {
		psArgs = "-ef"
	}
	if err := validateDockerPSArgs(psArgs); err != nil {
		return nil, err
	}
	spec, err := parsePS(strings.Split(psArgs, " ")) // dockerd splits on single spaces
	if err != nil {
		return nil, err
	}
	if spec.exclusive || spec.noHeader || !hasPIDTitle(spec.columns) {
		return nil, errNoPID
	}
	c := newPSContext(spec)
	procs := c.selectProcs(c.collect(pids))
	c.sortProcs(procs)
	prefixes := make([]string, len(procs))
	if spec.forest != 0 {
		procs, prefixes = forestOrder(procs, spec.forest)
	}
	top := &protocol.Top{Titles: make([]string, len(spec.columns)), Processes: [][]string{}}
	for i, col := range spec.columns {
		top.Titles[i] = col.header
	}
	for i, p := range procs {
		c.prefix = prefixes[i]
		top.Processes = append(top.Processes, c.row(p))
	}
	return top, nil
}

var dockerPSArgsRE = regexp.MustCompile(`\s+(\S*)=\s*(PID\S*)`)

// validateDockerPSArgs refuses, as dockerd does, to let another column be
// titled PID (dockerd finds the container's rows by that column).
func validateDockerPSArgs(psArgs string) error {
	for _, g := range dockerPSArgsRE.FindAllStringSubmatch(psArgs, -1) {
		if len(g) >= 3 && g[1] != "pid" {
			return fmt.Errorf("specifying \"%s=%s\" is not allowed", g[1], g[2])
		}
	}
	return nil
}

// hasPIDTitle is dockerd's check that the header has a PID column.
func hasPIDTitle(cols []psColumn) bool {
	for _, c := range cols {
		if c.header == "PID" {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Option parsing, after procps-ng's ps/parser.c and ps/sortformat.c.

// psSpec is what a ps command line asks for.
type psSpec struct {
	columns   []psColumn
	sortKeys  []psSortKey
	forest    byte // 0, 'b' (f, --forest: ASCII art) or 'u' (-H: indentation)
	threads   bool // one row per thread (-L, -T, H)
	noHeader  bool
	exclusive bool // -V, --help and the like: ps prints no process list

	bsdC, bsdE, unixF, userNumber, deadChildren bool

	sels                      []psSelection
	allProcs, negate, runOnly bool
}

type psColumn struct {
	field  *psField
	header string
	width  int
}

type psSortKey struct {
	field   *psField
	reverse bool
}

// Format flags, format modifiers and thread flags, as procps names them.
const (
	ffUf = 1 << iota // -f
	ffUl             // -l
	ffBj             // j
	ffBl             // l
	ffBs             // s
	ffBu             // u
	ffBv             // v
	ffLX             // X
	ffLm             // m, on the BSD pass
	ffFc             // --context
)

const (
	fmF = 1 << iota // -F
	fmY             // -y
	fmC             // -c
	fmJ             // -j
	fmP             // -P
	fmM             // -M, -Z, Z
)

const (
	tfUL = 1 << iota // -L
	tfUT             // -T
	tfUm             // -m
	tfBm             // m, M
	tfBH             // H
)

// Deferred sort and format options.
const (
	sfUo      = iota // -o
	sfUO             // -O
	sfBo             // o
	sfBO             // O
	sfGformat        // --format
	sfGsort          // --sort, k
)

type sfNode struct {
	arg  string
	code int
}

type psParser struct {
	argv      []string
	i         int
	forceBSD  bool // the second pass
	preferBSD bool

	formatFlags, formatMods, threadFlags int
	sf                                   []sfNode
	header                               int // 0, headNone or headMulti
	mustUse                              bool

	spec        psSpec
	unsupported error // a feature procps has and this ps does not
}

const (
	headNone = iota + 1
	headMulti
)

type psParseError string

func (e psParseError) Error() string { return string(e) }

func psErrorf(format string, args ...any) error { return psParseError(fmt.Sprintf(format, args...)) }

// psUnsupported is the error for what procps ps accepts and this one cannot do.
func psUnsupported(what, why string) error {
	return fmt.Errorf("ps: error: %s is not supported: %s (sockerless lists the container's processes from /proc, without ps)", what, why)
}

// parsePS parses a ps command line as procps does: as SysV/Unix98 first,
// then, if that fails, again with dashed options read as BSD ones ("-aux"),
// reporting the first pass's error when both fail.
func parsePS(argv []string) (*psSpec, error) {
	p := &psParser{argv: argv}
	err := p.run()
	if err != nil {
		q := &psParser{argv: argv, forceBSD: true, preferBSD: true}
		if q.run() != nil {
			var pe psParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("ps: error: %s", pe)
			}
			return nil, err
		}
		p = q
	}
	if p.unsupported != nil {
		return nil, p.unsupported
	}
	return &p.spec, nil
}

func (p *psParser) unsupportedf(what, why string) {
	if p.unsupported == nil {
		p.unsupported = psUnsupported(what, why)
	}
}

func (p *psParser) run() error {
	if err := p.parseAll(); err != nil {
		return err
	}
	if p.spec.exclusive {
		return nil
	}
	if err := p.threadCheck(); err != nil {
		return err
	}
	cols, err := p.formats()
	if err != nil {
		return err
	}
	p.spec.columns = cols
	p.spec.noHeader = p.header == headNone
	p.spec.threads = p.threadFlags&(tfUL|tfUT|tfBH) != 0
	return nil
}

const (
	argGNU = iota
	argEnd
	argPGRP
	argSysV
	argPID
	argBSD
	argFail
	argSess
)

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func argType(s string) int {
	at := func(i int) byte {
		if i < len(s) {
			return s[i]
		}
		return 0
	}
	switch {
	case isAlpha(at(0)):
		return argBSD
	case isDigit(at(0)):
		return argPID
	case at(0) == '+':
		return argSess
	case at(0) != '-':
		return argFail
	case isAlpha(at(1)):
		return argSysV
	case isDigit(at(1)):
		return argPGRP
	case at(1) != '-':
		return argFail
	case isAlpha(at(2)):
		return argGNU
	case at(2) == 0:
		return argEnd
	}
	if r, _ := utf8.DecodeRuneInString(s[2:]); unicode.IsLetter(r) {
		return argGNU
	}
	return argFail
}

func (p *psParser) parseAll() error {
	for p.i = 0; p.i < len(p.argv); p.i++ {
		var err error
		switch argType(p.argv[p.i]) {
		case argGNU:
			err = p.parseGNU()
		case argSysV:
			if !p.forceBSD {
				err = p.parseSysV()
				break
			}
			p.preferBSD = true
			err = p.parseBSD()
		case argBSD:
			if p.forceBSD {
				return psParseError("way bad")
			}
			p.preferBSD = true
			err = p.parseBSD()
		case argPGRP, argSess, argPID:
			p.preferBSD = true
			err = p.parseTrailingPIDs()
		default:
			return psParseError("garbage option")
		}
		if err != nil || p.spec.exclusive {
			return err
		}
	}
	return nil
}

// optArg is the argument of the option letter at j of the current argument:
// the rest of it ("-opid") or the next argument ("-o pid").
func (p *psParser) optArg(j int) (string, bool) {
	if rest := p.argv[p.i][j+1:]; rest != "" {
		return rest, true
	}
	if p.i+1 >= len(p.argv) || p.argv[p.i+1] == "" {
		return "", false
	}
	p.i++
	return p.argv[p.i], true
}

// exclusive is for the options that must stand alone (-V, L): ps prints
// something other than a process list, so dockerd finds no PID column.
func (p *psParser) exclusive(opt string) error {
	if len(p.argv) != 1 || p.argv[0] != opt {
		return psErrorf("the option is exclusive: %s", opt)
	}
	p.spec.exclusive = true
	return nil
}

func (p *psParser) list(arg string, kind byte, missing string, ok bool) error {
	if !ok {
		return psParseError(missing)
	}
	s, err := parsePSList(arg, kind, p.spec.negate)
	if err != nil {
		return err
	}
	p.spec.sels = append(p.spec.sels, s)
	return nil
}

func (p *psParser) parseSysV() error {
	a := p.argv[p.i]
	for j := 1; j < len(a); j++ {
		switch a[j] {
		case 'A', 'e':
			p.spec.allProcs = true
		case 'C':
			arg, ok := p.optArg(j)
			return p.list(arg, 'c', "list of command names must follow -C", ok)
		case 'D':
			if _, ok := p.optArg(j); !ok {
				return psParseError("date format must follow -D")
			}
			p.unsupportedf("-D (a date format for lstart)", "lstart is printed in procps's default format")
			return nil
		case 'F':
			p.formatMods |= fmF
			p.formatFlags |= ffUf
			p.spec.unixF = true
		case 'G':
			arg, ok := p.optArg(j)
			return p.list(arg, 'R', "list of real groups must follow -G", ok)
		case 'H':
			p.spec.forest = 'u'
		case 'L':
			p.threadFlags |= tfUL
		case 'M', 'Z':
			p.formatMods |= fmM
		case 'N':
			p.spec.negate = true
		case 'O':
			arg, ok := p.optArg(j)
			if !ok {
				return psParseError("format or sort specification must follow -O")
			}
			p.sf = append(p.sf, sfNode{arg, sfUO})
			return nil
		case 'P':
			p.formatMods |= fmP
		case 'T':
			p.threadFlags |= tfUT
		case 'U':
			arg, ok := p.optArg(j)
			return p.list(arg, 'U', "list of real users must follow -U", ok)
		case 'V':
			return p.exclusive("-V")
		case 'a', 'd':
			// all processes with a terminal, or all but session leaders: dockerd
			// asks for the container's processes by PID, which -a and -d do not narrow
		case 'c':
			p.formatMods |= fmC
		case 'f':
			p.formatFlags |= ffUf
			p.spec.unixF = true
		case 'g':
			arg, ok := p.optArg(j)
			if !ok {
				return psParseError("list of session leaders OR effective group names must follow -g")
			}
			if s, err := parsePSList(arg, 's', p.spec.negate); err == nil {
				p.spec.sels = append(p.spec.sels, s)
				return nil
			}
			if s, err := parsePSList(arg, 'G', p.spec.negate); err == nil {
				p.spec.sels = append(p.spec.sels, s)
				return nil
			}
			return psParseError("list of session leaders OR effective group IDs was invalid")
		case 'j':
			p.formatMods |= fmJ
		case 'l':
			p.formatFlags |= ffUl
		case 'm':
			p.threadFlags |= tfUm
		case 'o':
			arg, ok := p.optArg(j)
			if !ok {
				return psParseError("format specification must follow -o")
			}
			p.sf = append(p.sf, sfNode{arg, sfUo})
			return nil
		case 'p':
			arg, ok := p.optArg(j)
			return p.list(arg, 'p', "list of process IDs must follow -p", ok)
		case 'q':
			arg, ok := p.optArg(j)
			return p.list(arg, 'p', "List of process IDs must follow -q.", ok)
		case 's':
			arg, ok := p.optArg(j)
			return p.list(arg, 's', "list of session IDs must follow -s", ok)
		case 't':
			arg, ok := p.optArg(j)
			return p.list(arg, 't', "list of terminals (pty, tty...) must follow -t", ok)
		case 'u':
			arg, ok := p.optArg(j)
			return p.list(arg, 'u', "list of users must follow -u", ok)
		case 'w':
		case 'x':
			return psParseError("must set personality to get -x option")
		case 'y':
			p.formatMods |= fmY
		case '-':
			return psParseError("embedded '-' among SysV options makes no sense")
		default:
			return psParseError("unsupported SysV option")
		}
	}
	return nil
}

func (p *psParser) parseBSD() error {
	a := p.argv[p.i]
	j := 0
	if strings.HasPrefix(a, "-") {
		j = 1
	}
	for ; j < len(a); j++ {
		switch c := a[j]; {
		case isDigit(c):
			return p.list(a[j:], 'p', "", true)
		case c == 'H':
			p.threadFlags |= tfBH
		case c == 'L':
			return p.exclusive("L")
		case c == 'M':
			p.threadFlags |= tfBm
		case c == 'O':
			arg, ok := p.optArg(j)
			if !ok {
				return psParseError("format or sort specification must follow O")
			}
			p.sf = append(p.sf, sfNode{arg, sfBO})
			return nil
		case c == 'S':
			p.spec.deadChildren = true
		case c == 'T':
			// this terminal's processes: ps has none under dockerd, so those without one
			p.spec.sels = append(p.spec.sels, psSelection{kind: 't', nums: []int64{0}})
		case c == 'U':
			arg, ok := p.optArg(j)
			return p.list(arg, 'u', "list of users must follow U", ok)
		case c == 'V':
			return p.exclusive("V")
		case c == 'W':
			return psParseError("obsolete W option not supported (you have a /dev/drum?)")
		case c == 'X':
			p.formatFlags |= ffLX
		case c == 'Z':
			p.formatMods |= fmM
		case c == 'a', c == 'g', c == 'x':
			// with a terminal, all, without a terminal: see -a
		case c == 'c':
			p.spec.bsdC = true
		case c == 'e':
			p.spec.bsdE = true
		case c == 'f':
			p.spec.forest = 'b'
		case c == 'h':
			if p.header != 0 {
				return psParseError("only one heading option may be specified")
			}
			p.header = headNone
		case c == 'j':
			p.formatFlags |= ffBj
		case c == 'k':
			arg, ok := p.optArg(j)
			if !ok {
				return psParseError("long sort specification must follow 'k'")
			}
			p.sf = append(p.sf, sfNode{arg, sfGsort})
			return nil
		case c == 'l':
			p.formatFlags |= ffBl
		case c == 'm':
			if p.forceBSD { // procps's BSD pass reads m as the old Linux format
				p.formatFlags |= ffLm
			} else {
				p.threadFlags |= tfBm
			}
		case c == 'n':
			p.spec.userNumber = true
		case c == 'o':
			arg, ok := p.optArg(j)
			if !ok {
				return psParseError("format specification must follow o")
			}
			p.sf = append(p.sf, sfNode{arg, sfBo})
			return nil
		case c == 'p':
			arg, ok := p.optArg(j)
			return p.list(arg, 'p', "list of process IDs must follow p", ok)
		case c == 'q':
			arg, ok := p.optArg(j)
			return p.list(arg, 'p', "List of process IDs must follow q.", ok)
		case c == 'r':
			p.spec.runOnly = true
		case c == 's':
			p.formatFlags |= ffBs
		case c == 't':
			arg, ok := p.optArg(j)
			if !ok {
				p.spec.sels = append(p.spec.sels, psSelection{kind: 't', nums: []int64{0}})
				return nil
			}
			return p.list(arg, 't', "", true)
		case c == 'u':
			p.formatFlags |= ffBu
		case c == 'v':
			p.formatFlags |= ffBv
		case c == 'w':
		case c == '-':
			return psParseError("embedded '-' among BSD options makes no sense")
		default:
			return psParseError("unsupported option (BSD syntax)")
		}
	}
	return nil
}

func (p *psParser) parseGNU() error {
	s := p.argv[p.i][2:]
	sl := strings.IndexAny(s, ":=")
	if sl < 0 {
		sl = len(s)
	}
	if sl > 15 {
		return psParseError("unknown gnu long option")
	}
	name, flag := s[:sl], s[sl:]
	arg := func() (string, bool) {
		switch {
		case flag == "":
			if p.i+1 >= len(p.argv) || p.argv[p.i+1] == "" {
				return "", false
			}
			p.i++
			return p.argv[p.i], true
		case flag[0] == '=' || flag[0] == ':':
			return flag[1:], flag[1:] != ""
		}
		return "", false
	}
	noArg := func(msg string) error {
		if flag != "" {
			return psParseError(msg)
		}
		return nil
	}
	switch name {
	case "Group":
		a, ok := arg()
		return p.list(a, 'R', "list of real groups must follow --Group", ok)
	case "User":
		a, ok := arg()
		return p.list(a, 'U', "list of real users must follow --User", ok)
	case "cols", "width", "columns", "rows", "lines":
		a, ok := arg()
		if n, err := strconv.ParseInt(a, 0, 64); ok && err == nil && n > 0 && n < 2000000000 {
			return nil // the API has no screen: nothing is cut for width
		}
		if name == "rows" || name == "lines" {
			return psParseError("number of rows must follow --rows or --lines")
		}
		return psParseError("number of columns must follow --cols, --width, or --columns")
	case "cumulative":
		if err := noArg("option --cumulative does not take an argument"); err != nil {
			return err
		}
		p.spec.deadChildren = true
	case "date-format":
		if _, ok := arg(); !ok {
			return psParseError("date format must follow --date-format")
		}
		p.unsupportedf("--date-format", "lstart is printed in procps's default format")
	case "deselect":
		if err := noArg("option --deselect does not take an argument"); err != nil {
			return err
		}
		p.spec.negate = true
	case "no-header", "no-headers", "no-heading", "no-headings", "noheader", "noheaders", "noheading", "noheadings":
		if err := noArg("option --no-heading does not take an argument"); err != nil {
			return err
		}
		if p.header != 0 {
			return psParseError("only one heading option may be specified")
		}
		p.header = headNone
	case "header", "headers", "heading", "headings":
		if err := noArg("option --heading does not take an argument"); err != nil {
			return err
		}
		if p.header != 0 {
			return psParseError("only one heading option may be specified")
		}
		p.header = headMulti
	case "forest":
		if err := noArg("option --forest does not take an argument"); err != nil {
			return err
		}
		p.spec.forest = 'b'
	case "format":
		a, ok := arg()
		if !ok {
			return psParseError("format specification must follow --format")
		}
		p.sf = append(p.sf, sfNode{a, sfGformat})
	case "group":
		a, ok := arg()
		return p.list(a, 'G', "list of effective groups must follow --group", ok)
	case "help", "info", "version":
		return p.exclusive("--" + name)
	case "pid":
		a, ok := arg()
		return p.list(a, 'p', "list of process IDs must follow --pid", ok)
	case "quick-pid":
		a, ok := arg()
		return p.list(a, 'p', "List of process IDs must follow --quick-pid.", ok)
	case "ppid":
		a, ok := arg()
		return p.list(a, 'P', "list of process IDs must follow --ppid", ok)
	case "sid":
		a, ok := arg()
		return p.list(a, 's', "some sid thing(s) must follow --sid", ok)
	case "signames":
		p.unsupportedf("--signames", "signal masks are printed in hexadecimal")
	case "sort":
		a, ok := arg()
		if !ok {
			return psParseError("long sort specification must follow --sort")
		}
		p.sf = append(p.sf, sfNode{a, sfGsort})
	case "tty":
		a, ok := arg()
		return p.list(a, 't', "list of ttys must follow --tty", ok)
	case "user":
		a, ok := arg()
		return p.list(a, 'u', "list of effective users must follow --user", ok)
	case "context":
		p.formatFlags |= ffFc
	default:
		return psParseError("unknown gnu long option")
	}
	return nil
}

// parseTrailingPIDs takes the rest of the command line as PIDs, -PGIDs and
// +SIDs.
func (p *psParser) parseTrailingPIDs() error {
	for ; p.i < len(p.argv); p.i++ {
		a, kind := p.argv[p.i], byte('p')
		switch {
		case strings.HasPrefix(a, "-"):
			a, kind = a[1:], 'g'
		case strings.HasPrefix(a, "+"):
			a, kind = a[1:], 's'
		}
		n, err := parsePSPID(a)
		if err != nil {
			return err
		}
		p.spec.sels = append(p.spec.sels, psSelection{kind: kind, nums: []int64{n}})
	}
	p.i = len(p.argv) - 1
	return nil
}

func (p *psParser) threadCheck() error {
	tf := p.threadFlags
	if tf == 0 {
		return nil
	}
	if p.spec.forest != 0 {
		return psParseError("thread display conflicts with forest display")
	}
	if tf&tfBH != 0 && tf&(tfBm|tfUm) != 0 {
		return psParseError("thread flags conflict; can't use H with m or -m")
	}
	if tf&tfBm != 0 && tf&tfUm != 0 {
		return psParseError("thread flags conflict; can't use both m and -m")
	}
	if tf&tfUL != 0 && tf&tfUT != 0 {
		return psParseError("thread flags conflict; can't use both -L and -T")
	}
	if tf&(tfUT|tfUL) != 0 && tf&(tfBm|tfUm|tfBH) != 0 {
		p.mustUse = true
	}
	if tf&(tfBm|tfUm) != 0 {
		p.unsupportedf("m, -m and M (threads below their process)", "use -L, -T or H for one row per thread")
	}
	return nil
}

// formats turns the format options into columns, as procps's
// process_sf_options.
func (p *psParser) formats() ([]psColumn, error) {
	var user []psColumn
	haveFormat, haveSort := false, false
	gnuSort := false
	for _, n := range p.sf {
		gnuSort = gnuSort || n.code == sfGsort
	}
	for _, n := range p.sf {
		switch n.code {
		case sfUo, sfBo, sfGformat:
			cols, err := parseFormatList(n.arg)
			if err != nil {
				return nil, err
			}
			haveFormat = true
			user = append(user, cols...)
		case sfUO:
			if haveFormat {
				return nil, psParseError("option -O can not follow other format options")
			}
			cols, err := parseFormatList(n.arg)
			if err != nil {
				return nil, err
			}
			haveFormat = true
			user = append(user, wrapO(cols, endSys5)...)
		case sfBO:
			var err error
			if gnuSort || haveSort {
				err = psParseError("multiple sort options")
			} else {
				err = verifyShortSort(n.arg, p.spec.forest != 0)
			}
			if err == nil {
				haveSort = true
				p.unsupportedf(fmt.Sprintf("O %s (sorting by one-letter keys)", n.arg), "sort with --sort and field names")
				continue
			}
			if haveFormat {
				return nil, psParseError("option O is neither first format nor sort order")
			}
			cols, ferr := parseFormatList(n.arg)
			if ferr != nil {
				return nil, err
			}
			haveFormat = true
			user = append(user, wrapO(cols, endBSD)...)
		case sfGsort:
			if haveSort {
				return nil, psParseError("multiple sort options")
			}
			haveSort = true
			keys, err := parseSortList(n.arg)
			if err != nil {
				return nil, err
			}
			p.spec.sortKeys = keys
		}
	}
	if len(user) > 0 {
		switch {
		case p.formatFlags != 0:
			return nil, psParseError("conflicting format options")
		case p.formatMods != 0:
			return nil, psParseError("can not use output modifiers with user-defined output")
		case p.mustUse:
			return nil, psParseError("-L/-T with H/m/-m and -o/-O/o/O is nonsense")
		}
		return user, nil
	}
	var macro string
	switch p.formatFlags {
	case 0, ffUf, ffUl, ffUf | ffUl:
		return p.generateSysV()
	case ffBj:
		macro = "ppid,pid,pgid,sid,tname,tpgid,stat,uid,bsdtime,args"
	case ffBl:
		macro = "flags,uid,pid,ppid,priority,nice,vsz,rss,wchan,stat,tname,bsdtime,args"
	case ffBs:
		macro = "uid,pid,pending,sigmask,sigignore,sigcatch,stat,tname,bsdtime,args"
	case ffBu:
		macro = "user,pid,pcpu,pmem,vsz,rss,tname,stat,start_time,bsdtime,args"
	case ffBv:
		macro = "pid,tname,stat,bsdtime,maj_flt,trs,drs,rss,pmem,args"
	case ffLX:
		p.unsupportedf("X (the i386 register format)", "there are no registers in /proc to show")
		return nil, nil
	case ffLm:
		p.unsupportedf("m (threads below their process)", "use -L, -T or H for one row per thread")
		return nil, nil
	case ffFc:
		macro = "pid,context,args"
	default:
		return nil, psParseError("conflicting format options")
	}
	cols := columnsOf(macro)
	fm, tf := p.formatMods, p.threadFlags
	if fm&fmJ != 0 {
		var ok bool
		if cols, ok = addAfter(cols, "PPID", "pgid"); !ok {
			if cols, ok = addAfter(cols, "PID", "pgid"); !ok {
				return nil, psParseError("internal error: no PID or PPID for -j option")
			}
		}
		if cols, ok = addAfter(cols, "PGID", "sid"); !ok {
			return nil, psParseError("lost my PGID")
		}
	}
	if fm&fmY != 0 {
		cols, _ = deleteColumn(cols, "F")
		var ok bool
		if cols, ok = addAfter(cols, "ADDR", "rss"); ok {
			cols, _ = deleteColumn(cols, "ADDR")
		}
	}
	if fm&fmC != 0 {
		for _, h := range []string{"%CPU", "CPU", "CP", "C", "NI"} {
			cols, _ = deleteColumn(cols, h)
		}
		var ok bool
		if cols, ok = addAfter(cols, "PRI", "class"); !ok {
			return nil, psParseError("internal error: no PRI for -c option")
		}
		cols, _ = deleteColumn(cols, "PRI")
		if cols, ok = addAfter(cols, "CLS", "pri"); !ok {
			return nil, psParseError("lost my CLS")
		}
	}
	if tf&tfUT != 0 {
		var ok bool
		if cols, ok = addAfter(cols, "PID", "spid"); !ok && p.mustUse {
			return nil, psParseError("-T with H/-m/m but no PID for SPID to follow")
		}
	}
	if tf&tfUL != 0 {
		ok := false
		for _, h := range []string{"SID", "SESS", "PGID", "PGRP", "PPID", "PID"} {
			if cols, ok = addAfter(cols, h, "lwp"); ok {
				break
			}
		}
		if !ok && p.mustUse {
			return nil, psParseError("-L with H/-m/m but no PID/PGID/SID/SESS for NLWP to follow")
		}
		cols, _ = addAfter(cols, "%CPU", "nlwp")
	}
	if fm&fmM != 0 {
		cols = append(columnsOf("label"), cols...)
	}
	return cols, nil
}

// generateSysV is the default and the -f/-l/-F/-j... formats, built as
// procps's generate_sysv_list builds them (backwards).
func (p *psParser) generateSysV() ([]psColumn, error) {
	ff, fm, tf := p.formatFlags, p.formatMods, p.threadFlags
	if fm&fmY != 0 && ff&ffUl == 0 {
		return nil, psParseError("modifier -y without format -l makes no sense")
	}
	var rev []string
	push := func(n ...string) { rev = append(rev, n...) }
	if p.preferBSD {
		if ff != 0 {
			push("cmd")
		} else {
			push("args")
		}
		push("bsdtime")
		if ff&ffUl == 0 {
			push("stat")
		}
	} else {
		if ff&ffUf != 0 {
			push("cmd")
		} else {
			push("ucmd")
		}
		push("time")
	}
	push("tname")
	if ff&ffUf != 0 {
		push("stime")
	}
	if fm&fmF != 0 {
		if fm&fmP == 0 {
			push("psr")
		}
		if !(ff&ffUl != 0 && fm&fmY != 0) {
			push("rss")
		}
	}
	if ff&ffUl != 0 {
		push("wchan")
	}
	if fm&fmF != 0 || ff&ffUl != 0 {
		push("sz")
	}
	if ff&ffUl != 0 {
		if fm&fmY != 0 {
			push("rss")
		} else {
			push("addr_1")
		}
	}
	if fm&fmC != 0 {
		push("pri", "class")
	} else if ff&ffUl != 0 {
		push("ni", "opri")
	}
	if tf&tfUL != 0 && ff&ffUf != 0 {
		push("nlwp")
	}
	if ff&(ffUf|ffUl) != 0 && fm&fmC == 0 {
		push("c")
	}
	if fm&fmP != 0 {
		push("psr")
	}
	if tf&tfUL != 0 {
		push("lwp")
	}
	if fm&fmJ != 0 {
		push("sid", "pgid")
	}
	if ff&(ffUf|ffUl) != 0 {
		push("ppid")
	}
	if tf&tfUT != 0 {
		push("spid")
	}
	push("pid")
	if ff&ffUf != 0 {
		push("uid_hack")
	} else if ff&ffUl != 0 {
		push("uid")
	}
	if ff&ffUl != 0 {
		push("s")
		if fm&fmY == 0 {
			push("f")
		}
	}
	if fm&fmM != 0 {
		push("label")
	}
	cols := make([]psColumn, 0, len(rev))
	for i := len(rev) - 1; i >= 0; i-- {
		cols = append(cols, columnsOf(rev[i])...)
	}
	return cols, nil
}

const (
	endBSD  = "state,tname,cputime,comm"
	endSys5 = "state,tname,time,command"
)

// wrapO puts -O's and O's columns between PID and the default trailer.
func wrapO(cols []psColumn, trailer string) []psColumn {
	out := columnsOf("pid")
	out = append(out, cols...)
	return append(out, columnsOf(trailer)...)
}

// columnsOf is the columns of a comma-separated list of known field names.
func columnsOf(list string) []psColumn {
	var cols []psColumn
	for _, name := range strings.Split(list, ",") {
		f := psFields[name]
		cols = append(cols, psColumn{field: f, header: f.header, width: f.width})
	}
	return cols
}

func addAfter(cols []psColumn, header, name string) ([]psColumn, bool) {
	for i, c := range cols {
		if c.header == header {
			add := columnsOf(name)
			return append(cols[:i+1], append(add, cols[i+1:]...)...), true
		}
	}
	return cols, false
}

func deleteColumn(cols []psColumn, header string) ([]psColumn, bool) {
	for i, c := range cols {
		if c.header == header {
			return append(cols[:i], cols[i+1:]...), true
		}
	}
	return cols, false
}

func isListSep(c byte) bool { return c == ' ' || c == ',' || c == '\t' || c == '\n' }

// splitFormatItems checks and splits a format or sort list as procps does:
// separators are blanks and commas, one trailing separator is allowed.
func splitFormatItems(s, what string) ([]string, error) {
	if s == "" {
		return nil, psErrorf("improper %s list", what)
	}
	need := true
	for i := 0; i < len(s); i++ {
		if isListSep(s[i]) {
			if need {
				return nil, psErrorf("improper %s list", what)
			}
			need = true
		} else {
			need = false
		}
	}
	if need {
		s = s[:len(s)-1]
	}
	return strings.FieldsFunc(s, func(r rune) bool { return r < utf8.RuneSelf && isListSep(byte(r)) }), nil
}

// parseFormatList parses an -o list: name[:width][=header], with procps's
// errors ("unknown user-defined format specifier").
func parseFormatList(s string) ([]psColumn, error) {
	items, err := splitFormatItems(s, "format")
	if err != nil {
		return nil, aixOr(s, err)
	}
	var cols []psColumn
	for _, item := range items {
		spec, header, renamed := item, "", false
		if eq := strings.IndexByte(item, '='); eq >= 0 {
			spec, header, renamed = item[:eq], item[eq+1:], true
		}
		width := 0
		if colon := strings.IndexByte(spec, ':'); colon >= 0 {
			w := spec[colon+1:]
			spec = spec[:colon]
			n, err := strconv.Atoi(w)
			if w == "" || strings.Trim(w, "0123456789") != "" || w[0] == '0' || err != nil || n <= 0 {
				return nil, aixOr(s, psParseError("column widths must be unsigned decimal numbers"))
			}
			width = n
		}
		f := psFields[spec]
		if f == nil {
			if why, ok := psUnsupportedFields[spec]; ok {
				return nil, psUnsupported(fmt.Sprintf("format specifier %q", spec), why)
			}
			return nil, aixOr(s, psErrorf("unknown user-defined format specifier \"%s\"", spec))
		}
		col := psColumn{field: f, header: f.header, width: f.width}
		if renamed {
			col.header = header
			col.width = max(col.width, len(header))
		}
		if width > 0 {
			col.width = width
		}
		cols = append(cols, col)
	}
	return cols, nil
}

// aixOr is the error of a format list that procps would try as AIX format
// descriptors ("%p %c") next, which this ps does not read.
func aixOr(s string, err error) error {
	if strings.Contains(s, "%") && s != "%cpu" && !strings.HasPrefix(s, "%cpu ") &&
		!strings.HasPrefix(s, "%cpu,") && !strings.HasPrefix(s, "%m") {
		return psUnsupported(fmt.Sprintf("the AIX format descriptors in %q", s), "use field names, as in -o pid,comm")
	}
	return err
}

func verifyShortSort(arg string, forest bool) error {
	const all = "CGJKMNPRSTUcfgjkmnoprstuvy+-"
	seen := map[byte]bool{}
	for i := 0; i < len(arg); i++ {
		c := arg[i]
		if !strings.ContainsRune(all, rune(c)) {
			return psParseError("bad sorting code")
		}
		switch c {
		case '+', '-':
			if i+1 >= len(arg) || arg[i+1] == '+' || arg[i+1] == '-' {
				return psParseError("bad sorting code")
			}
		default:
			if c == 'P' && forest {
				return psParseError("PPID sort and forest output conflict")
			}
			if seen[c] {
				return psParseError("bad sorting code")
			}
			seen[c] = true
		}
	}
	return nil
}

func parseSortList(s string) ([]psSortKey, error) {
	items, err := splitFormatItems(s, "sort")
	if err != nil {
		return nil, err
	}
	var keys []psSortKey
	for _, item := range items {
		k := psSortKey{}
		switch {
		case strings.HasPrefix(item, "-"):
			k.reverse, item = true, item[1:]
		case strings.HasPrefix(item, "+"):
			item = item[1:]
		}
		if k.field = psFields[item]; k.field == nil {
			if why, ok := psUnsupportedFields[item]; ok {
				return nil, psUnsupported(fmt.Sprintf("sort key %q", item), why)
			}
			return nil, psParseError("unknown sort specifier")
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// ---------------------------------------------------------------------------
// Process selection.

// psSelection is one list of a selection option; a process is selected when
// it is in any list (or there is none), as procps selects.
type psSelection struct {
	kind  byte // p pid, g pgrp, s session, P ppid, u euid, U ruid, G egid, R rgid, t tty, c command
	nums  []int64
	names []string
}

func (s psSelection) match(p *psProc) bool {
	if s.kind == 'c' {
		for _, n := range s.names {
			if n == p.comm {
				return true
			}
		}
		return false
	}
	var v int64
	switch s.kind {
	case 'p':
		v = int64(p.pid)
	case 'g':
		v = int64(p.pgrp)
	case 's':
		v = int64(p.sid)
	case 'P':
		v = int64(p.ppid)
	case 'u':
		v = int64(p.uids[1])
	case 'U':
		v = int64(p.uids[0])
	case 'G':
		v = int64(p.gids[1])
	case 'R':
		v = int64(p.gids[0])
	case 't':
		v = int64(p.ttyNr)
	}
	for _, n := range s.nums {
		if n == v {
			return true
		}
	}
	return false
}

func parsePSPID(s string) (int64, error) {
	n, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return 0, psParseError("process ID list syntax error")
	}
	if n < 1 || n > 0x7fffffff {
		return 0, psParseError("process ID out of range")
	}
	return int64(n), nil
}

// parsePSList parses a selection list (blank- or comma-separated) of kind.
func parsePSList(arg string, kind byte, negate bool) (psSelection, error) {
	sel := psSelection{kind: kind}
	need := true
	for i := 0; i < len(arg); i++ {
		if c := arg[i]; c == ' ' || c == ',' || c == '\t' {
			if need {
				return sel, psParseError("improper list")
			}
			need = true
		} else {
			need = false
		}
	}
	if need {
		return sel, psParseError("improper list")
	}
	for _, item := range strings.FieldsFunc(arg, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
		switch kind {
		case 'p', 'g', 's', 'P':
			n, err := parsePSPID(item)
			if err != nil {
				return sel, err
			}
			sel.nums = append(sel.nums, n)
		case 'u', 'U':
			n, err := parsePSID(item, negate, "user", func(name string) (uint32, bool) {
				for _, e := range readPasswd() {
					if e.name == name {
						return e.uid, true
					}
				}
				return 0, false
			})
			if err != nil {
				return sel, err
			}
			sel.nums = append(sel.nums, n)
		case 'G', 'R':
			n, err := parsePSID(item, negate, "group", func(name string) (uint32, bool) {
				for _, e := range readGroups() {
					if e.name == name {
						return e.gid, true
					}
				}
				return 0, false
			})
			if err != nil {
				return sel, err
			}
			sel.nums = append(sel.nums, n)
		case 't':
			n, err := parsePSTTY(item)
			if err != nil {
				return sel, err
			}
			sel.nums = append(sel.nums, n)
		case 'c':
			sel.names = append(sel.names, item)
		}
	}
	return sel, nil
}

func parsePSID(s string, negate bool, what string, lookup func(string) (uint32, bool)) (int64, error) {
	n, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		id, ok := lookup(s)
		if !ok {
			if !negate {
				return 0, psErrorf("%s name does not exist", what)
			}
			return -1, nil
		}
		return int64(id), nil
	}
	if n > 0xfffffffe {
		return 0, psErrorf("%s ID out of range", what)
	}
	return int64(n), nil
}

// parsePSTTY finds a terminal as procps does: pts/0, /dev/tty1, 1 (for
// /dev/pts/1), co (console); - or ? for none.
func parsePSTTY(s string) (int64, error) {
	var st unix.Stat_t
	found := false
	if strings.HasPrefix(s, "/") {
		if unix.Stat(s, &st) != nil {
			return 0, psParseError("TTY could not be found")
		}
		found = true
	}
	for _, f := range []string{"/dev/pts/%s", "/dev/%s", "/dev/tty%s", "/dev/pty%s", "/dev/%snsole"} {
		if found {
			break
		}
		found = unix.Stat(fmt.Sprintf(f, s), &st) == nil
	}
	if !found {
		if s == "-" || s == "?" || len(s) == 1 && unix.Stat(s, &st) == nil {
			return 0, nil
		}
		return 0, psParseError("TTY could not be found")
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return 0, psParseError("list member was not a TTY")
	}
	major, minor := int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	return minor&0xff | major<<8 | (minor&^0xff)<<12, nil // the kernel's tty_nr encoding
}

// ---------------------------------------------------------------------------
// Reading /proc.

// psProc is one row's process (or thread) as /proc shows it.
type psProc struct {
	dir      string
	pid, tid int // process (thread group) and the task shown
	comm     string
	state    byte

	ppid, pgrp, sid, ttyNr, tpgid       int
	flags                               uint64
	minflt, cminflt, majflt, cmajflt    uint64
	utime, stime, cutime, cstime        uint64
	priority, nice, nlwp                int64
	start                               uint64 // clock ticks after boot
	vsize, rssPages, startCode, endCode uint64
	processor, rtprio, policy           int64

	uids, gids                             [4]uint32 // real, effective, saved, filesystem
	vmSize, vmRSS, vmLck                   uint64    // KiB
	sigPnd, shdPnd, sigBlk, sigIgn, sigCgt string
	cmdline                                []byte
}

func readPSProc(dir string, pid, tid int) (*psProc, error) {
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return nil, err
	}
	s := string(b)
	open, closeIdx := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closeIdx < open {
		return nil, fmt.Errorf("top: malformed %s/stat", dir)
	}
	f := strings.Fields(s[closeIdx+1:])
	if len(f) < 39 {
		return nil, fmt.Errorf("top: short %s/stat", dir)
	}
	u := func(i int) uint64 { n, _ := strconv.ParseUint(f[i], 10, 64); return n }
	n := func(i int) int64 { n, _ := strconv.ParseInt(f[i], 10, 64); return n }
	p := &psProc{
		dir: dir, pid: pid, tid: tid, comm: s[open+1 : closeIdx], state: f[0][0],
		ppid: int(n(1)), pgrp: int(n(2)), sid: int(n(3)), ttyNr: int(n(4)), tpgid: int(n(5)),
		flags: u(6), minflt: u(7), cminflt: u(8), majflt: u(9), cmajflt: u(10),
		utime: u(11), stime: u(12), cutime: u(13), cstime: u(14),
		priority: n(15), nice: n(16), nlwp: n(17), start: u(19),
		vsize: u(20), rssPages: u(21), startCode: u(23), endCode: u(24),
		processor: n(36), rtprio: n(37), policy: n(38),
	}
	p.vmSize, p.vmRSS = p.vsize/1024, p.rssPages*uint64(os.Getpagesize())/1024
	if st, err := os.ReadFile(filepath.Join(dir, "status")); err == nil {
		for _, line := range strings.Split(string(st), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			fs := strings.Fields(v)
			kib := func() uint64 {
				if len(fs) == 0 {
					return 0
				}
				x, _ := strconv.ParseUint(fs[0], 10, 64)
				return x
			}
			switch k {
			case "Uid", "Gid":
				for i := 0; i < 4 && i < len(fs); i++ {
					x, _ := strconv.ParseUint(fs[i], 10, 32)
					if k == "Uid" {
						p.uids[i] = uint32(x)
					} else {
						p.gids[i] = uint32(x)
					}
				}
			case "VmSize":
				p.vmSize = kib()
			case "VmRSS":
				p.vmRSS = kib()
			case "VmLck":
				p.vmLck = kib()
			case "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt":
				if len(fs) == 1 {
					*map[string]*string{"SigPnd": &p.sigPnd, "ShdPnd": &p.shdPnd, "SigBlk": &p.sigBlk, "SigIgn": &p.sigIgn, "SigCgt": &p.sigCgt}[k] = fs[0]
				}
			}
		}
	}
	p.cmdline, _ = os.ReadFile(filepath.Join(dir, "cmdline"))
	return p, nil
}

// psContext is what a listing knows besides the processes.
type psContext struct {
	spec    *psSpec
	now     time.Time
	uptime  float64 // seconds since boot
	boot    int64   // Unix seconds
	memKiB  uint64  // what %MEM is relative to, read when needed
	users   map[uint32]string
	groups  map[uint32]string
	prefix  string // the forest art of the row being printed
	memRead bool
}

func newPSContext(spec *psSpec) *psContext {
	c := &psContext{spec: spec, now: time.Now(), users: map[uint32]string{}, groups: map[uint32]string{}}
	if b, err := os.ReadFile(filepath.Join(procRoot, "uptime")); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			c.uptime, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	if b, err := os.ReadFile(filepath.Join(procRoot, "stat")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "btime "); ok {
				c.boot, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			}
		}
	}
	if c.boot == 0 {
		c.boot = c.now.Unix() - int64(c.uptime)
	}
	for _, e := range readPasswd() {
		if _, ok := c.users[e.uid]; !ok {
			c.users[e.uid] = e.name
		}
	}
	for _, e := range readGroups() {
		if _, ok := c.groups[e.gid]; !ok {
			c.groups[e.gid] = e.name
		}
	}
	return c
}

// collect reads the processes (or, for -L, -T and H, their threads), by PID.
func (c *psContext) collect(pids []int) []*psProc {
	pids = append([]int(nil), pids...)
	sort.Ints(pids)
	var out []*psProc
	for _, pid := range pids {
		dir := filepath.Join(procRoot, strconv.Itoa(pid))
		if !c.spec.threads {
			if p, err := readPSProc(dir, pid, pid); err == nil {
				out = append(out, p)
			}
			continue
		}
		entries, err := os.ReadDir(filepath.Join(dir, "task"))
		if err != nil {
			continue
		}
		var tids []int
		for _, e := range entries {
			if tid, err := strconv.Atoi(e.Name()); err == nil {
				tids = append(tids, tid)
			}
		}
		sort.Ints(tids)
		for _, tid := range tids {
			if p, err := readPSProc(filepath.Join(dir, "task", strconv.Itoa(tid)), pid, tid); err == nil {
				out = append(out, p)
			}
		}
	}
	return out
}

// selectProcs keeps the rows the selection options ask for. dockerd asks ps
// for the container's processes by PID and keeps the container's rows, so
// without a selection list every process of the container is shown.
func (c *psContext) selectProcs(procs []*psProc) []*psProc {
	s := c.spec
	var out []*psProc
	for _, p := range procs {
		matched := len(s.sels) == 0 || s.allProcs
		for _, sel := range s.sels {
			matched = matched || sel.match(p)
		}
		keep := s.negate
		if matched {
			keep = !s.negate && (!s.runOnly || p.state == 'R')
		}
		if keep {
			out = append(out, p)
		}
	}
	return out
}

func (c *psContext) sortProcs(procs []*psProc) {
	keys := c.spec.sortKeys
	if len(keys) == 0 {
		return
	}
	sort.SliceStable(procs, func(i, j int) bool {
		for _, k := range keys {
			if d := c.compare(k.field, procs[i], procs[j]); d != 0 {
				return d < 0 != k.reverse
			}
		}
		return false
	})
}

func (c *psContext) compare(f *psField, a, b *psProc) int {
	if f.key != nil {
		x, y := f.key(c, a), f.key(c, b)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	x, y := f.print(c, a), f.print(c, b)
	if f.numeric {
		xf, errx := strconv.ParseFloat(x, 64)
		yf, erry := strconv.ParseFloat(y, 64)
		if errx != nil {
			xf = math.Inf(-1)
		}
		if erry != nil {
			yf = math.Inf(-1)
		}
		switch {
		case xf < yf:
			return -1
		case xf > yf:
			return 1
		}
		return 0
	}
	return strings.Compare(x, y)
}

// forestOrder puts the processes in tree order, each with its forest art as
// procps draws it: children of a process not listed are roots.
func forestOrder(procs []*psProc, kind byte) ([]*psProc, []string) {
	listed := map[int]bool{}
	for _, p := range procs {
		listed[p.pid] = true
	}
	children := map[int][]*psProc{}
	var roots []*psProc
	for _, p := range procs {
		if listed[p.ppid] && p.ppid != p.pid {
			children[p.ppid] = append(children[p.ppid], p)
		} else {
			roots = append(roots, p)
		}
	}
	var (
		out      []*psProc
		prefixes []string
		art      []byte
	)
	render := func() string {
		var b strings.Builder
		for _, ch := range art {
			switch {
			case kind == 'u':
				b.WriteString("  ")
			case ch == ' ':
				b.WriteString("    ")
			case ch == '|':
				b.WriteString(" |  ")
			default: // 'L', '+'
				b.WriteString(` \_ `)
			}
		}
		return b.String()
	}
	var walk func(p *psProc, level int, more bool)
	walk = func(p *psProc, level int, more bool) {
		if level > 0 {
			art = art[:level-1]
			if more {
				art = append(art, '+')
			} else {
				art = append(art, 'L')
			}
		} else {
			art = art[:0]
		}
		out, prefixes = append(out, p), append(prefixes, render())
		kids := children[p.pid]
		if len(kids) == 0 {
			return
		}
		if level > 0 {
			if more {
				art[level-1] = '|'
			} else {
				art[level-1] = ' '
			}
		}
		for i, k := range kids {
			walk(k, level+1, i < len(kids)-1)
		}
		art = art[:level]
	}
	for _, r := range roots {
		walk(r, 0, false)
	}
	return out, prefixes
}

// row prints a process's columns; string columns other than the last are
// cut to the column's width, as ps cuts them.
func (c *psContext) row(p *psProc) []string {
	row := make([]string, len(c.spec.columns))
	for i, col := range c.spec.columns {
		v := col.field.print(c, p)
		if i < len(c.spec.columns)-1 {
			switch col.field.cut {
			case 's':
				if utf8.RuneCountInString(v) > col.width {
					v = string([]rune(v)[:col.width])
				}
			case 'n':
				if utf8.RuneCountInString(v) > col.width && col.width >= 1 {
					v = string([]rune(v)[:col.width-1]) + "+"
				}
			}
		}
		row[i] = strings.TrimSpace(v) // dockerd trims the padding of each cell
	}
	return row
}

// ---------------------------------------------------------------------------
// Fields: procps's format specifiers, their headers and printers.

type psField struct {
	header  string
	width   int  // procps's column width, which cuts string columns
	cut     byte // 0, 's' cut to width, 'n' a user or group name cut with '+'
	numeric bool // sorted as numbers
	print   func(c *psContext, p *psProc) string
	key     func(c *psContext, p *psProc) float64 // sort key when the text does not sort
}

var psFields = map[string]*psField{}

// psUnsupportedFields are procps format specifiers this ps does not print.
var psUnsupportedFields = map[string]string{}

func init() {
	num := func(header string, f func(p *psProc) int64) *psField {
		return &psField{header: header, numeric: true, print: func(_ *psContext, p *psProc) string { return strconv.FormatInt(f(p), 10) }}
	}
	unum := func(header string, f func(p *psProc) uint64) *psField {
		return &psField{header: header, numeric: true, print: func(_ *psContext, p *psProc) string { return strconv.FormatUint(f(p), 10) }}
	}
	str := func(header string, f func(c *psContext, p *psProc) string) *psField {
		return &psField{header: header, print: f}
	}
	def := func(f *psField, names ...string) {
		for _, n := range names {
			psFields[n] = f
		}
	}
	withHeader := func(f *psField, header string) *psField { g := *f; g.header = header; return &g }

	def(num("PID", func(p *psProc) int64 { return int64(p.pid) }), "pid")
	def(num("TGID", func(p *psProc) int64 { return int64(p.pid) }), "tgid")
	def(num("PPID", func(p *psProc) int64 { return int64(p.ppid) }), "ppid")
	pgid := num("PGID", func(p *psProc) int64 { return int64(p.pgrp) })
	def(pgid, "pgid")
	def(withHeader(pgid, "PGRP"), "pgrp")
	sid := num("SID", func(p *psProc) int64 { return int64(p.sid) })
	def(sid, "sid")
	def(withHeader(sid, "SESS"), "sess", "session")
	def(num("TPGID", func(p *psProc) int64 { return int64(p.tpgid) }), "tpgid")
	tid := num("LWP", func(p *psProc) int64 { return int64(p.tid) })
	def(tid, "lwp")
	def(withHeader(tid, "SPID"), "spid")
	def(withHeader(tid, "TID"), "tid")
	nlwp := num("NLWP", func(p *psProc) int64 { return p.nlwp })
	def(nlwp, "nlwp")
	def(withHeader(nlwp, "THCNT"), "thcount")

	ids := []struct {
		idx                   int
		uid, user, gid, group string
	}{
		{1, "UID", "USER", "GID", "GROUP"},
		{0, "RUID", "RUSER", "RGID", "RGROUP"},
		{2, "SUID", "SUSER", "SGID", "SGROUP"},
		{3, "FUID", "FUSER", "FGID", "FGROUP"},
	}
	for _, id := range ids {
		i := id.idx
		u := unum(id.uid, func(p *psProc) uint64 { return uint64(p.uids[i]) })
		g := unum(id.gid, func(p *psProc) uint64 { return uint64(p.gids[i]) })
		un := &psField{header: id.user, width: 8, cut: 'n', print: func(c *psContext, p *psProc) string { return c.name(c.users, p.uids[i]) }}
		gn := &psField{header: id.group, width: 8, cut: 'n', print: func(c *psContext, p *psProc) string { return c.name(c.groups, p.gids[i]) }}
		def(u, strings.ToLower(id.uid))
		def(g, strings.ToLower(id.gid))
		def(un, strings.ToLower(id.user))
		def(gn, strings.ToLower(id.group))
		if i == 1 {
			def(withHeader(u, "EUID"), "euid")
			def(withHeader(g, "EGID"), "egid")
			def(un, "uname")
			def(withHeader(un, "EUSER"), "euser")
			def(withHeader(gn, "EGROUP"), "egroup")
			def(withHeader(un, "UID"), "uid_hack")
		}
		if i == 2 {
			def(withHeader(u, "SVUID"), "svuid")
			def(withHeader(g, "SVGID"), "svgid")
		}
	}

	comm := &psField{header: "COMMAND", width: 15, cut: 's', print: func(c *psContext, p *psProc) string { return c.command(p, c.spec.unixF) }}
	def(comm, "comm", "ucomm")
	def(withHeader(comm, "CMD"), "ucmd")
	args := &psField{header: "COMMAND", width: 27, cut: 's', print: func(c *psContext, p *psProc) string { return c.command(p, !c.spec.bsdC) }}
	def(args, "args", "command")
	def(withHeader(args, "CMD"), "cmd")
	def(&psField{header: "COMMAND", width: 8, cut: 's', print: func(c *psContext, p *psProc) string {
		name := []rune(escapePS(p.comm))
		return c.prefix + string(name[:min(len(name), 8)])
	}}, "fname")

	elapsed := func(c *psContext, p *psProc) float64 { return c.elapsed(p) }
	started := func(_ *psContext, p *psProc) float64 { return float64(p.start) }
	cpuTicks := func(c *psContext, p *psProc) float64 { return float64(c.cpuTicks(p, false)) }
	def(&psField{header: "ELAPSED", key: elapsed, print: func(c *psContext, p *psProc) string {
		t := uint64(c.elapsed(p))
		ss, mm, hh, dd := t%60, t/60%60, t/3600%24, t/86400
		switch {
		case dd > 0:
			return fmt.Sprintf("%d-%02d:%02d:%02d", dd, hh, mm, ss)
		case hh > 0:
			return fmt.Sprintf("%02d:%02d:%02d", hh, mm, ss)
		}
		return fmt.Sprintf("%02d:%02d", mm, ss)
	}}, "etime")
	def(&psField{header: "ELAPSED", key: elapsed, print: func(c *psContext, p *psProc) string {
		return strconv.FormatUint(uint64(c.elapsed(p)), 10)
	}}, "etimes")
	def(&psField{header: "TIME", key: cpuTicks, print: func(c *psContext, p *psProc) string {
		t := c.cpuTicks(p, false) / clockTicks
		ss, mm, hh, dd := t%60, t/60%60, t/3600%24, t/86400
		if dd > 0 {
			return fmt.Sprintf("%d-%02d:%02d:%02d", dd, hh, mm, ss)
		}
		return fmt.Sprintf("%02d:%02d:%02d", hh, mm, ss)
	}}, "time", "cputime")
	def(&psField{header: "TIME", key: cpuTicks, print: func(c *psContext, p *psProc) string {
		return strconv.FormatUint(c.cpuTicks(p, false)/clockTicks, 10)
	}}, "times", "cputimes")
	def(&psField{header: "TIME", key: cpuTicks, print: func(c *psContext, p *psProc) string {
		t := c.cpuTicks(p, c.spec.deadChildren) / clockTicks
		return fmt.Sprintf("%d:%02d", t/60, t%60)
	}}, "bsdtime")

	def(&psField{header: "STARTED", key: started, print: func(c *psContext, p *psProc) string {
		return c.startTime(p).Format("Mon Jan _2 15:04:05 2006")
	}}, "lstart")
	def(&psField{header: "STARTED", key: started, print: func(c *psContext, p *psProc) string {
		t := c.startTime(p)
		if t.Unix()+86400 > c.now.Unix() {
			return t.Format("15:04:05")
		}
		return t.Format("Jan 02")
	}}, "start")
	stime := &psField{header: "STIME", key: started, print: func(c *psContext, p *psProc) string {
		t, now := c.startTime(p), c.now.In(time.Local)
		switch {
		case t.Year() != now.Year():
			return t.Format("2006")
		case t.YearDay() != now.YearDay():
			return t.Format("Jan02")
		}
		return t.Format("15:04")
	}}
	def(stime, "stime")
	def(withHeader(stime, "START"), "start_time")
	def(&psField{header: "START", key: started, print: func(c *psContext, p *psProc) string {
		t := c.startTime(p)
		if c.now.Unix()-t.Unix() > 86400 {
			return t.Format("Jan _2")
		}
		return t.Format("15:04")
	}}, "bsdstart")

	rss := unum("RSS", func(p *psProc) uint64 { return p.vmRSS })
	def(rss, "rss", "rssize")
	def(withHeader(rss, "RSZ"), "rsz")
	def(unum("VSZ", func(p *psProc) uint64 { return p.vmSize }), "vsz", "vsize")
	def(unum("SZ", func(p *psProc) uint64 { return p.vmSize / (uint64(os.Getpagesize()) / 1024) }), "sz")
	def(unum("TRS", func(p *psProc) uint64 {
		if p.vsize == 0 {
			return 0
		}
		return (p.endCode - p.startCode) >> 10
	}), "trs")
	def(unum("DRS", func(p *psProc) uint64 {
		if p.vsize == 0 {
			return 0
		}
		return (p.vsize - p.endCode + p.startCode) >> 10
	}), "drs")
	majflt := &psField{header: "MAJFLT", numeric: true, print: func(c *psContext, p *psProc) string {
		if c.spec.deadChildren {
			return strconv.FormatUint(p.majflt+p.cmajflt, 10)
		}
		return strconv.FormatUint(p.majflt, 10)
	}}
	def(majflt, "majflt")
	def(withHeader(majflt, "MAJFL"), "maj_flt")
	minflt := &psField{header: "MINFLT", numeric: true, print: func(c *psContext, p *psProc) string {
		if c.spec.deadChildren {
			return strconv.FormatUint(p.minflt+p.cminflt, 10)
		}
		return strconv.FormatUint(p.minflt, 10)
	}}
	def(minflt, "minflt")
	def(withHeader(minflt, "MINFL"), "min_flt")

	def(&psField{header: "%CPU", numeric: true, print: func(c *psContext, p *psProc) string {
		pcpu := uint64(c.utilization(p) * 10)
		if pcpu > 999 {
			return strconv.FormatUint(pcpu/10, 10)
		}
		return fmt.Sprintf("%d.%d", pcpu/10, pcpu%10)
	}}, "%cpu", "pcpu")
	def(&psField{header: "%MEM", numeric: true, print: func(c *psContext, p *psProc) string {
		pmem := uint64(0)
		if total := c.memTotalKiB(); total > 0 {
			pmem = min(p.vmRSS*1000/total, 999)
		}
		return fmt.Sprintf("%d.%d", pmem/10, pmem%10)
	}}, "%mem", "pmem")
	def(&psField{header: "C", numeric: true, print: func(c *psContext, p *psProc) string {
		return strconv.FormatUint(min(uint64(c.utilization(p)), 99), 10)
	}}, "c")
	def(&psField{header: "CP", numeric: true, print: func(c *psContext, p *psProc) string {
		return strconv.FormatUint(min(uint64(c.utilization(p)*10), 999), 10)
	}}, "cp")

	def(str("STAT", func(_ *psContext, p *psProc) string {
		b := []byte{p.state}
		if p.nice < 0 {
			b = append(b, '<')
		}
		if p.nice > 0 {
			b = append(b, 'N')
		}
		if p.vmLck > 0 {
			b = append(b, 'L')
		}
		if p.sid == p.pid {
			b = append(b, 's') // session leader
		}
		if p.nlwp > 1 {
			b = append(b, 'l') // multi-threaded
		}
		if p.pgrp == p.tpgid {
			b = append(b, '+') // in the foreground process group
		}
		return string(b)
	}), "stat")
	def(str("S", func(_ *psContext, p *psProc) string { return string(p.state) }), "s", "state")
	def(&psField{header: "NI", numeric: true, print: func(_ *psContext, p *psProc) string {
		if p.policy != 0 && p.policy != 3 { // nice applies to SCHED_OTHER and SCHED_BATCH
			return "-"
		}
		return strconv.FormatInt(p.nice, 10)
	}}, "ni", "nice")
	def(num("PRI", func(p *psProc) int64 { return 39 - p.priority }), "pri")
	def(num("PRI", func(p *psProc) int64 { return p.priority }), "priority")
	def(num("PRI", func(p *psProc) int64 { return 60 + p.priority }), "opri")
	class := str("CLS", func(_ *psContext, p *psProc) string {
		if p.policy >= 0 && p.policy <= 6 {
			return []string{"TS", "FF", "RR", "B", "ISO", "IDL", "DLN"}[p.policy]
		}
		return "?"
	})
	def(class, "cls", "class")
	def(withHeader(class, "POL"), "policy")
	def(&psField{header: "RTPRIO", numeric: true, print: func(_ *psContext, p *psProc) string {
		if p.policy == 0 {
			return "-"
		}
		return strconv.FormatInt(p.rtprio, 10)
	}}, "rtprio")
	def(num("SCH", func(p *psProc) int64 { return p.policy }), "sched")
	def(num("PSR", func(p *psProc) int64 { return p.processor }), "psr")
	def(str("F", func(_ *psContext, p *psProc) string { return strconv.FormatUint(p.flags>>6&7, 8) }), "f", "flag", "flags")
	def(&psField{header: "WCHAN", width: 6, cut: 's', print: func(_ *psContext, p *psProc) string {
		b, err := os.ReadFile(filepath.Join(p.dir, "wchan"))
		if w := string(bytes.TrimSpace(b)); err == nil && w != "" && w != "0" {
			return w
		}
		return "-"
	}}, "wchan")
	dash := func(header string) *psField {
		return str(header, func(*psContext, *psProc) string { return "-" })
	}
	def(dash("ADDR"), "addr", "addr_1")
	label := &psField{header: "LABEL", width: 31, cut: 's', print: func(_ *psContext, p *psProc) string {
		b, err := os.ReadFile(filepath.Join(p.dir, "attr", "current"))
		if l := string(bytes.TrimRight(b, "\x00\n")); err == nil && l != "" {
			return escapePS(l)
		}
		return "-"
	}}
	def(label, "label")
	def(withHeader(label, "CONTEXT"), "context")
	tty := &psField{header: "TT", key: func(_ *psContext, p *psProc) float64 { return float64(p.ttyNr) },
		print: func(_ *psContext, p *psProc) string { return ttyName(int64(p.ttyNr)) }}
	def(tty, "tty", "tt")
	def(withHeader(tty, "TTY"), "tname")
	sig := func(header string, f func(p *psProc) string) *psField {
		return str(header, func(_ *psContext, p *psProc) string {
			s := f(p)
			if len(s) < 16 {
				s = strings.Repeat("0", 16-len(s)) + s
			}
			return s
		})
	}
	def(sig("PENDING", func(p *psProc) string { return p.shdPnd }), "pending", "sig")
	def(sig("BLOCKED", func(p *psProc) string { return p.sigBlk }), "blocked", "sigmask")
	def(sig("IGNORED", func(p *psProc) string { return p.sigIgn }), "ignored", "sigignore")
	def(sig("CAUGHT", func(p *psProc) string { return p.sigCgt }), "caught", "sigcatch")
	def(sig("BLOCKED", func(p *psProc) string { return p.sigBlk }), "sig_block")
	def(sig("CATCHED", func(p *psProc) string { return p.sigCgt }), "sig_catch")
	def(sig("IGNORED", func(p *psProc) string { return p.sigIgn }), "sig_ignore")
	def(sig("SIGNAL", func(p *psProc) string { return p.sigPnd }), "sig_pend")

	// procps's other names for the same columns
	alias := func(name, header string, of string) { def(withHeader(psFields[of], header), name) }
	alias("fsuid", "FSUID", "fuid")
	alias("fsgid", "FSGID", "fgid")
	alias("fsuser", "FSUSER", "fuser")
	alias("fsgroup", "FSGROUP", "fgroup")
	alias("svuser", "SVUSER", "suser")
	alias("svgroup", "SVGROUP", "sgroup")
	alias("intpri", "PRI", "opri")
	alias("lastcpu", "C", "psr")
	alias("cpuid", "CPUID", "psr")
	alias("util", "C", "c")
	alias("atime", "TIME", "time")
	alias("wname", "WCHAN", "wchan")
	for _, n := range []string{"longtname", "tty4", "tty8"} {
		alias(n, "TTY", "tname")
	}
	def(num("API", func(p *psProc) int64 { return -1 - p.priority }), "pri_api")
	def(num("BAR", func(p *psProc) int64 { return p.priority + 1 }), "pri_bar")
	def(num("BAZ", func(p *psProc) int64 { return p.priority + 100 }), "pri_baz")
	def(num("FOO", func(p *psProc) int64 { return p.priority - 20 }), "pri_foo")
	def(dash("ZONE"), "zone")
	def(&psField{header: "EXE", print: func(_ *psContext, p *psProc) string {
		if exe, err := os.Readlink(filepath.Join(procRoot, strconv.Itoa(p.pid), "exe")); err == nil {
			return escapePS(exe)
		}
		return "-"
	}}, "exe")

	// The rest of procps-ng 4.0's specifiers (`ps L`).
	for _, name := range strings.Fields("ag_id ag_nice cgname cgroup cgroupns cuc cuu dsiz eip esp " +
		"ipcns lim lsession luid lxc m_drs m_size m_trs machine mntns netns numa oom oomadj ouid pagein " +
		"pidns pss rbytes rchars rops seat sgi_p sgi_rss size slice stackp start_stack supgid supgrp " +
		"timens trss tsig tsiz unit userns uss utsns uunit wbytes wcbytes wchars wops") {
		psUnsupportedFields[name] = "this ps prints only the common fields (see docs/docker_api_mapping.md)"
	}
	for n := range psFields {
		delete(psUnsupportedFields, n)
	}
}

func (c *psContext) name(names map[uint32]string, id uint32) string {
	if n, ok := names[id]; ok && !c.spec.userNumber {
		return escapePS(n)
	}
	return strconv.FormatUint(uint64(id), 10)
}

// command is comm or the command line, with the forest art and, with BSD e,
// the environment.
func (c *psContext) command(p *psProc, cmdline bool) string {
	var b strings.Builder
	b.WriteString(c.prefix)
	if cmdline {
		b.WriteString(escapePS(p.args()))
	} else {
		b.WriteString(escapePS(p.comm))
		if p.state == 'Z' {
			b.WriteString(" <defunct>")
		}
	}
	if c.spec.bsdE {
		if env, err := os.ReadFile(filepath.Join(p.dir, "environ")); err == nil && len(env) > 0 {
			b.WriteByte(' ')
			b.WriteString(escapePS(string(bytes.ReplaceAll(bytes.TrimRight(env, "\x00"), []byte{0}, []byte{' '}))))
		}
	}
	return b.String()
}

// args is the command line, or [comm] when it has none (a kernel thread, a
// zombie).
func (p *psProc) args() string {
	b := bytes.TrimRight(p.cmdline, "\x00")
	if len(b) == 0 {
		s := "[" + p.comm + "]"
		if p.state == 'Z' {
			s += " <defunct>"
		}
		return s
	}
	return string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
}

// escapePS shows what ps shows of a string: ? for what is not printable.
func escapePS(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 || !unicode.IsPrint(r) && r != ' ' {
			b.WriteByte('?')
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func (c *psContext) startTime(p *psProc) time.Time {
	return time.Unix(c.boot+int64(p.start/clockTicks), 0).In(time.Local)
}

// elapsed is the seconds since the process started.
func (c *psContext) elapsed(p *psProc) float64 {
	return max(c.uptime-float64(p.start)/clockTicks, 0)
}

func (c *psContext) cpuTicks(p *psProc, children bool) uint64 {
	t := p.utime + p.stime
	if children {
		t += p.cutime + p.cstime
	}
	return t
}

// utilization is the CPU time over the lifetime, in percent, as procps's.
func (c *psContext) utilization(p *psProc) float64 {
	life := c.uptime*clockTicks - float64(p.start)
	if life <= 0 {
		return 0
	}
	return float64(c.cpuTicks(p, c.spec.deadChildren)) * 100 / life
}

// memTotalKiB is what %MEM is relative to: the container's memory limit (the
// cgroup's, else the function's memory size), else MemTotal.
func (c *psContext) memTotalKiB() uint64 {
	if c.memRead {
		return c.memKiB
	}
	c.memRead = true
	var limit uint64
	if fileExists(filepath.Join(cgroupRoot, "cgroup.controllers")) {
		limit, _ = readUint(filepath.Join(cgroupDir("", "memory.max"), "memory.max"))
	} else {
		limit, _ = readUint(filepath.Join(cgroupDir("memory", "memory.limit_in_bytes"), "memory.limit_in_bytes"))
	}
	if limit == 0 || limit >= unlimited {
		_, limit = procMemory()
	}
	c.memKiB = limit / 1024
	return c.memKiB
}

// ttyName names a terminal from /proc/<pid>/stat's tty_nr as ps does.
func ttyName(nr int64) string {
	if nr == 0 {
		return "?"
	}
	major := (nr >> 8) & 0xfff
	minor := (nr & 0xff) | ((nr >> 12) & 0xfff00)
	switch {
	case major >= 136 && major <= 143:
		return "pts/" + strconv.FormatInt((major-136)*256+minor, 10)
	case major == 4 && minor < 64:
		return "tty" + strconv.FormatInt(minor, 10)
	case major == 4:
		return "ttyS" + strconv.FormatInt(minor-64, 10)
	case major == 5 && minor == 0:
		return "tty"
	case major == 5 && minor == 1:
		return "console"
	}
	return "?"
}

// signalAll sends sig to every process of the container: pause and unpause.
func signalAll(sig syscall.Signal) {
	for _, pid := range descendants(os.Getpid()) {
		_ = syscall.Kill(pid, sig)
	}
}
