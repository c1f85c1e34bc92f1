// Package protocol holds the wire types shared by the agent (inside the Lambda
// function) and the backend (which serves the Docker API). The backend imports
// this package; nothing here is duplicated on the other side.
//
// The shape of a conversation, written down in docs/agent-protocol.md:
//
//  1. The backend starts a container with Invoke(Event) whose payload is an
//     Invocation: the process to run, the callback URL and a per-invocation
//     token.
//  2. The agent dials CallbackURL+ConnectPath as a WebSocket, sending the token
//     in the Authorization header. The backend refuses an unknown, foreign or
//     spent token before upgrading.
//  3. Over the WebSocket (binary messages) runs one yamux session; the agent is
//     the yamux client, the backend the server. Either side opens streams.
//     Every stream starts with one StreamHeader encoded as a JSON line.
//  4. The agent opens the control stream first and sends a Hello. It then
//     starts the process and opens one stream per output (stdout, and stderr
//     unless the process has a TTY) carrying raw bytes; they are closed when
//     the process closes its end. The backend opens a stdin stream when the
//     container has stdin attached.
//  5. When the process has exited and its outputs are closed, the agent sends
//     Exit on the control stream. The backend answers ExitAck once it has
//     consumed every output byte; only then does the agent write the exit
//     record to its log and complete the invocation.
package protocol

import (
	"encoding/json"
	"time"
)

// Version is the protocol version carried in Invocation and Hello. Version 2
// added run IDs, resumable output streams, exec, archive and top.
const Version = 2

// ConnectPath is the path, appended to Invocation.CallbackURL, that the agent
// dials with a WebSocket upgrade.
const ConnectPath = "/v1/agent/connect"

// Headers sent by the agent on the WebSocket upgrade.
const (
	// HeaderAuthorization carries "Bearer <token>".
	HeaderAuthorization = "Authorization"
	// HeaderContainerID carries the container ID the token was issued for.
	HeaderContainerID = "X-Sockerless-Container-Id"
	// HeaderRunID carries the run (one start of the container) the token
	// was issued for.
	HeaderRunID = "X-Sockerless-Run-Id"
)

// Invocation is the JSON payload of the Lambda Invoke that starts a container.
// It travels in the invocation, never in the function configuration, so that
// the token is not readable by anyone who can read the function.
type Invocation struct {
	Version     int     `json:"version"`
	ContainerID string  `json:"containerId"`
	RunID       string  `json:"runId"`       // this start of the container
	CallbackURL string  `json:"callbackUrl"` // ws:// or wss://, without ConnectPath
	Token       string  `json:"token"`       // HMAC of container and run ID, see docs/agent-protocol.md
	Process     Process `json:"process"`
	// CACertPEM, when set, is the only CA the agent trusts for a wss:// callback.
	CACertPEM string `json:"caCertPem,omitempty"`
	// HoldStart makes the agent wait for MsgStart before it starts the
	// process: the backend has files to copy in first (docker cp before start).
	HoldStart bool `json:"holdStart,omitempty"`
	// Mounts are the container's volumes and tmpfs mounts, made before
	// anything else runs.
	Mounts []Mount `json:"mounts,omitempty"`
	// Purge lists directories of removed volumes on the EFS mount, which
	// only a function can reach: the agent deletes them beside the run and
	// reports which are gone in its exit message.
	Purge []string `json:"purge,omitempty"`
}

// Mount is one volume or tmpfs mount. The root file system of a function is
// read-only and nothing can be mounted in it, so the derived image holds, at
// Path, a symbolic link to Link, a path on writable storage (/tmp) that the
// agent makes at each start: a link to Dir, the volume's directory on the
// EFS mount, made if missing; or, with Dir empty, an empty directory (tmpfs).
type Mount struct {
	Path string `json:"path"`
	Link string `json:"link"`
	Dir  string `json:"dir,omitempty"`
	// Seed, when set, is a directory of the image holding what the base
	// image had at Path: the agent copies it into the mount when the mount
	// is new (an empty volume directory, or a per-run directory), as Docker
	// fills a new volume from the image.
	Seed string `json:"seed,omitempty"`
}

// Process is what the agent runs: the container's main process or an exec.
type Process struct {
	Args        []string `json:"args"`                 // argv; Args[0] is looked up in PATH from Env
	Env         []string `json:"env"`                  // the complete environment, KEY=VALUE
	WorkingDir  string   `json:"workingDir,omitempty"` // "" means "/"
	User        string   `json:"user,omitempty"`       // "", "uid", "uid:gid", or a name from /etc/passwd
	Tty         bool     `json:"tty,omitempty"`
	OpenStdin   bool     `json:"openStdin,omitempty"`   // the process reads a stdin stream from the backend
	ConsoleSize [2]uint  `json:"consoleSize,omitempty"` // rows, columns; for Tty
}

// Stream kinds, named in StreamHeader.Kind.
const (
	StreamControl = "control" // newline-delimited Message values, both ways
	StreamStdout  = "stdout"  // raw bytes, agent → backend
	StreamStderr  = "stderr"  // raw bytes, agent → backend
	StreamStdin   = "stdin"   // raw bytes, backend → agent; closing it is EOF for the process
	// StreamArchive is a file operation, backend → agent (docker cp): the
	// agent answers with one ArchiveReply line, then for ArchiveGet the tar.
	StreamArchive = "archive"
)

// Archive operations, in StreamHeader.Op.
const (
	ArchiveStat = "stat" // the path's PathStat only
	ArchiveGet  = "get"  // PathStat, then a tar of the path rooted at its base name
	ArchivePut  = "put"  // the backend sends a tar and half-closes; it is extracted into the directory Path
)

// StreamHeader is the first line of every yamux stream.
type StreamHeader struct {
	Kind string `json:"kind"`
	// ID names the process the stream belongs to: "" is the main process.
	ID string `json:"id,omitempty"`
	// Offset is, for an output stream, the stream offset of its first byte:
	// non-zero when a stream is reopened after a dropped connection.
	Offset int64 `json:"offset,omitempty"`

	// archive
	Op                   string `json:"op,omitempty"`
	Path                 string `json:"path,omitempty"`
	NoOverwriteDirNonDir bool   `json:"noOverwriteDirNonDir,omitempty"`
}

// StreamKey names an output stream within a run: "<id>/<kind>", so "/stdout"
// is the main process's stdout. Offsets and acks are keyed by it.
func StreamKey(id, kind string) string { return id + "/" + kind }

// PathStat is the stat of a path in the container, shaped like Docker's
// X-Docker-Container-Path-Stat (container.PathStat).
type PathStat struct {
	Name       string    `json:"name"`
	Size       int64     `json:"size"`
	Mode       uint32    `json:"mode"` // a Go os.FileMode
	Mtime      time.Time `json:"mtime"`
	LinkTarget string    `json:"linkTarget"`
}

// ArchiveReply is the agent's first line on an archive stream.
type ArchiveReply struct {
	Stat *PathStat `json:"stat,omitempty"`
	// Error is set when the operation failed; ErrorKind classifies it.
	Error     string `json:"error,omitempty"`
	ErrorKind string `json:"errorKind,omitempty"` // ErrNotFound, ErrReadOnly, ErrInvalid, or "" (other)
}

// Error kinds of an ArchiveReply, mapped by the backend to HTTP statuses.
const (
	ErrNotFound = "notFound" // 404
	ErrReadOnly = "readOnly" // 403: Lambda's root filesystem is read-only
	ErrInvalid  = "invalid"  // 400
)

// Message types on the control stream.
const (
	MsgHello   = "hello"   // agent → backend, first message
	MsgExit    = "exit"    // agent → backend, the process has ended
	MsgExitAck = "exitAck" // backend → agent, all output of the process was received
	MsgSignal  = "signal"  // backend → agent, deliver a signal to the process
	MsgResize  = "resize"  // backend → agent, resize the process's TTY

	MsgWelcome = "welcome" // backend → agent, answer to hello: Offsets received so far
	MsgAck     = "ack"     // backend → agent, Stream received up to Offset; the agent may forget it
	MsgStart   = "start"   // backend → agent, with HoldStart: files are in place (Error: start fails)
	MsgExec    = "exec"    // backend → agent, start Process as exec session ID
	MsgStarted = "started" // agent → backend, exec ID started as Pid
	MsgPause   = "pause"   // backend → agent, SIGSTOP every process of the container
	MsgUnpause = "unpause" // backend → agent, SIGCONT every process of the container
	MsgTop     = "top"     // backend → agent, request Req: list the processes as `ps PsArgs`
	MsgStats   = "stats"   // backend → agent, request Req: one sample of the sandbox's accounting
	MsgReply   = "reply"   // agent → backend, answer to request Req (Error, Top, Stats)
	MsgPurged  = "purged"  // agent → backend, these directories of Invocation.Purge are gone
)

// Message is one line on the control stream. Type says which fields are set.
type Message struct {
	Type string `json:"type"`
	ID   string `json:"id,omitempty"` // the process concerned; "" is the main process

	// hello
	ProtocolVersion int    `json:"protocolVersion,omitempty"`
	AgentVersion    string `json:"agentVersion,omitempty"`
	ContainerID     string `json:"containerId,omitempty"`
	RequestID       string `json:"requestId,omitempty"` // the Lambda invocation's request ID
	LogGroup        string `json:"logGroup,omitempty"`  // where this environment's output goes
	LogStream       string `json:"logStream,omitempty"`
	DeadlineMs      int64  `json:"deadlineMs,omitempty"` // the invocation deadline, Unix ms
	RunID           string `json:"runId,omitempty"`
	Resume          bool   `json:"resume,omitempty"` // a redial after a dropped connection
	Pid             int    `json:"pid,omitempty"`    // exit, started: the process ID

	// exit
	ExitCode *int   `json:"exitCode,omitempty"`
	Error    string `json:"error,omitempty"` // why the process could not start, or ended abnormally
	// Reason is "", "timeout" (the invocation deadline came first) or "killed".
	Reason string `json:"reason,omitempty"`
	// Sizes is the final length of each output stream of the process, by
	// kind: the backend acks the exit once it has received that much.
	Sizes map[string]int64 `json:"sizes,omitempty"`
	// purged: the directories of Invocation.Purge that are gone
	Purged []string `json:"purged,omitempty"`

	// welcome: bytes received per StreamKey; ack: one stream's offset
	Offsets map[string]int64 `json:"offsets,omitempty"`
	Stream  string           `json:"stream,omitempty"`
	Offset  int64            `json:"offset,omitempty"`

	// exec
	Process *Process `json:"process,omitempty"`

	// requests (top, stats) and their replies
	Req   string `json:"req,omitempty"`
	Top   *Top   `json:"top,omitempty"`
	Stats *Stats `json:"stats,omitempty"`
	// PsArgs are top's `ps` options (the Docker API's ps_args; "" is -ef).
	// Agents before it ignore it and always answer -ef's columns.
	PsArgs string `json:"psArgs,omitempty"`

	// signal: a signal name ("TERM", "SIGKILL") or number ("9")
	Signal string `json:"signal,omitempty"`

	// resize
	Width  uint `json:"width,omitempty"`
	Height uint `json:"height,omitempty"`
}

// Top is the process list of a container, shaped like Docker's TopResponse.
type Top struct {
	Titles    []string   `json:"titles"`
	Processes [][]string `json:"processes"`
}

// Stats is one sample of the sandbox's own accounting, read by the agent for
// `docker stats`. Counters are cumulative since they began; the backend maps a
// sample (and the one before it) onto Docker's StatsResponse.
type Stats struct {
	Time time.Time `json:"time"` // when the sample was read

	// CPU time of the container's processes, in nanoseconds.
	CPUTotalNs  uint64 `json:"cpuTotalNs"`
	CPUUserNs   uint64 `json:"cpuUserNs,omitempty"`
	CPUKernelNs uint64 `json:"cpuKernelNs,omitempty"`
	// SystemCPUNs is the machine's CPU time (/proc/stat) and OnlineCPUs its
	// CPUs, as Docker's system_cpu_usage and online_cpus.
	SystemCPUNs uint64 `json:"systemCpuNs,omitempty"`
	OnlineCPUs  uint32 `json:"onlineCpus,omitempty"`

	// Memory in bytes; MemoryStats is the cgroup's memory.stat when read.
	MemoryUsage    uint64            `json:"memoryUsage"`
	MemoryMaxUsage uint64            `json:"memoryMaxUsage,omitempty"`
	MemoryLimit    uint64            `json:"memoryLimit"`
	MemoryStats    map[string]uint64 `json:"memoryStats,omitempty"`

	Pids      uint64 `json:"pids"`                // the container's processes
	PidsLimit uint64 `json:"pidsLimit,omitempty"` // 0: none known

	Networks map[string]NetStats `json:"networks,omitempty"` // by interface, lo excluded
	BlockIO  []BlockIOStat       `json:"blockIo,omitempty"`  // bytes read and written, by device

	// Where the numbers came from: "cgroup2", "cgroup1" or "proc" (CPU from
	// /proc/<pid>/stat; memory from /proc/meminfo and the function's memory size).
	CPUSource    string `json:"cpuSource,omitempty"`
	MemorySource string `json:"memorySource,omitempty"`
}

// NetStats is one network interface's counters from /proc/net/dev.
type NetStats struct {
	RxBytes   uint64 `json:"rxBytes"`
	RxPackets uint64 `json:"rxPackets"`
	RxErrors  uint64 `json:"rxErrors"`
	RxDropped uint64 `json:"rxDropped"`
	TxBytes   uint64 `json:"txBytes"`
	TxPackets uint64 `json:"txPackets"`
	TxErrors  uint64 `json:"txErrors"`
	TxDropped uint64 `json:"txDropped"`
}

// BlockIOStat is bytes moved on one block device, Op "read" or "write"
// (cgroup v2) or as cgroup v1 names it ("Read", "Write", ...).
type BlockIOStat struct {
	Major uint64 `json:"major"`
	Minor uint64 `json:"minor"`
	Op    string `json:"op"`
	Value uint64 `json:"value"`
}

// LogLine is how the agent writes the process's output to its own stdout, one
// JSON object per line, so that CloudWatch holds it durably in a form from
// which `docker logs` recovers each line exactly and tells stdout from stderr.
// It is Docker's json-file format plus the Sockerless marker. A line longer
// than MaxLogLine is split like Docker splits it: every piece but the last
// lacks the trailing newline.
type LogLine struct {
	Sockerless int       `json:"sockerless"` // always Version; marks the line as the agent's
	Stream     string    `json:"stream"`     // "stdout" or "stderr"
	Log        string    `json:"log"`        // the bytes written, with their newline if they had one
	Time       time.Time `json:"time"`       // when the agent read them
	// Off is where the bytes start in the run's stream, and N, set only
	// when Log is not the bytes themselves, how many there were: JSON cannot
	// carry bytes that are not UTF-8 (each becomes U+FFFD), so the length of
	// Log does not always say where the next line starts.
	Off *int64 `json:"off,omitempty"`
	N   *int   `json:"n,omitempty"`
}

// DeadlineMessage ends the output of a container that the invocation's time
// limit stopped: the agent writes it to the log (docker logs) and the backend
// to attached clients, on stderr (stdout with a TTY), so that users see why.
const DeadlineMessage = "sockerless: the process was killed: the Lambda invocation reached its time limit (the function timeout, SOCKERLESS_LAMBDA_TIMEOUT, 15 minutes at most)\n"

// ExitRecord is the last line the agent writes for a container run, so that the
// exit code can be recovered from CloudWatch when no backend saw it.
type ExitRecord struct {
	Sockerless int      `json:"sockerless"`
	Exit       ExitInfo `json:"exit"`
}

// ExitInfo is the payload of an ExitRecord.
type ExitInfo struct {
	ContainerID string    `json:"containerId"`
	RequestID   string    `json:"requestId"`
	Code        int       `json:"code"`
	Error       string    `json:"error,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	StartedAt   time.Time `json:"startedAt"`
	FinishedAt  time.Time `json:"finishedAt"`
}

// MaxLogLine is the largest piece of output carried in one LogLine, as in
// Docker's json-file driver.
const MaxLogLine = 16 * 1024

// Response is the payload the agent posts to the Runtime API's /response
// when a container run ends.
type Response struct {
	ContainerID string `json:"containerId"`
	ExitCode    int    `json:"exitCode"`
	Error       string `json:"error,omitempty"`
}

// ParseLogLine decodes one CloudWatch message written by the agent. ok is false
// for anything else (Lambda's START/END/REPORT lines, the agent's own
// diagnostics), which `docker logs` never shows.
func ParseLogLine(message string) (line LogLine, exit *ExitInfo, ok bool) {
	if len(message) == 0 || message[0] != '{' {
		return LogLine{}, nil, false
	}
	var raw struct {
		Sockerless int       `json:"sockerless"`
		Stream     string    `json:"stream"`
		Log        *string   `json:"log"`
		Time       time.Time `json:"time"`
		Off        *int64    `json:"off"`
		N          *int      `json:"n"`
		Exit       *ExitInfo `json:"exit"`
	}
	if err := json.Unmarshal([]byte(message), &raw); err != nil || raw.Sockerless == 0 {
		return LogLine{}, nil, false
	}
	if raw.Exit != nil {
		return LogLine{}, raw.Exit, true
	}
	if raw.Log == nil || (raw.Stream != StreamStdout && raw.Stream != StreamStderr) {
		return LogLine{}, nil, false
	}
	return LogLine{Sockerless: raw.Sockerless, Stream: raw.Stream, Log: *raw.Log, Time: raw.Time, Off: raw.Off, N: raw.N}, nil, true
}
