// Command handler is a tiny Lambda-native runtime for the simulator's tests:
// it speaks the Runtime API itself and does what each event asks.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

type event struct {
	Stdout  int    `json:"stdout"`  // lines to print on stdout
	Stderr  int    `json:"stderr"`  // lines to print on stderr
	SleepMs int    `json:"sleepMs"` // then sleep
	Exit    *int   `json:"exit"`    // then exit with this code, without answering
	Error   string `json:"error"`   // or post this error message to /error
	Big     int    `json:"big"`     // or answer with this many bytes
	Noop    bool   `json:"noop"`    // or answer {} at once: the no-op handler of the benchmarks
	Fs      *fsOp  `json:"fs"`      // file operations, whose outcome is in the answer's "fs"
}

// fsOp writes Data to Write (making its directory first), then reads Read
// and stats it.
type fsOp struct {
	Write string `json:"write"`
	Data  string `json:"data"`
	Read  string `json:"read"`
}

type fsResult struct {
	WriteErr string `json:"writeErr,omitempty"`
	Data     string `json:"data"`
	ReadErr  string `json:"readErr,omitempty"`
	UID      int    `json:"uid"` // the owner of Read
	GID      int    `json:"gid"`
	DirUID   int    `json:"dirUid"` // the owner of Read's directory
	DirGID   int    `json:"dirGid"`
}

func (op *fsOp) run() fsResult {
	var r fsResult
	if op.Write != "" {
		if err := os.MkdirAll(filepath.Dir(op.Write), 0o755); err != nil {
			r.WriteErr = err.Error()
		} else if err := os.WriteFile(op.Write, []byte(op.Data), 0o644); err != nil {
			r.WriteErr = err.Error()
		}
	}
	if op.Read != "" {
		b, err := os.ReadFile(op.Read)
		if err != nil {
			r.ReadErr = err.Error()
		}
		r.Data = string(b)
		if fi, err := os.Stat(op.Read); err == nil {
			st := fi.Sys().(*syscall.Stat_t)
			r.UID, r.GID = int(st.Uid), int(st.Gid)
		}
		if fi, err := os.Stat(filepath.Dir(op.Read)); err == nil {
			st := fi.Sys().(*syscall.Stat_t)
			r.DirUID, r.DirGID = int(st.Uid), int(st.Gid)
		}
	}
	return r
}

func main() {
	api := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime"
	fmt.Println("handler init")
	if os.Getenv("EXIT_AFTER_INIT") != "" {
		// A plain `docker run` of the image, for the benchmarks' baseline.
		return
	}
	if os.Getenv("INIT_ERROR") != "" {
		post(api+"/init/error", `{"errorMessage":"init failed on purpose","errorType":"Test.InitError"}`)
		os.Exit(1)
	}
	count := 0
	for {
		resp, err := http.Get(api + "/invocation/next")
		if err != nil {
			fmt.Fprintln(os.Stderr, "next:", err)
			os.Exit(2)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
		count++
		var ev event
		_ = json.Unmarshal(body, &ev)
		for i := 1; i <= ev.Stdout; i++ {
			fmt.Printf("out %d\n", i)
		}
		for i := 1; i <= ev.Stderr; i++ {
			fmt.Fprintf(os.Stderr, "err %d\n", i)
		}
		time.Sleep(time.Duration(ev.SleepMs) * time.Millisecond)
		if ev.Exit != nil {
			os.Exit(*ev.Exit)
		}
		if ev.Error != "" {
			post(api+"/invocation/"+id+"/error", fmt.Sprintf(`{"errorMessage":%q,"errorType":"Test.Error","stackTrace":[]}`, ev.Error))
			continue
		}
		if ev.Noop {
			post(api+"/invocation/"+id+"/response", "{}")
			continue
		}
		if ev.Big > 0 {
			post(api+"/invocation/"+id+"/response", `"`+string(bytes.Repeat([]byte("x"), ev.Big))+`"`)
			continue
		}
		var fsOut *fsResult
		if ev.Fs != nil {
			r := ev.Fs.run()
			fsOut = &r
		}
		wd, _ := os.Getwd()
		_, tmpErr := os.Create("/tmp/probe")
		_, rootErr := os.Create("/probe")
		out, _ := json.Marshal(map[string]any{
			"event":        json.RawMessage(body),
			"count":        count,
			"pid":          os.Getpid(),
			"uid":          os.Getuid(),
			"gid":          os.Getgid(),
			"args":         os.Args,
			"cwd":          wd,
			"env":          os.Environ(),
			"tmpWritable":  tmpErr == nil,
			"rootWritable": rootErr == nil,
			"deadline":     resp.Header.Get("Lambda-Runtime-Deadline-Ms"),
			"arn":          resp.Header.Get("Lambda-Runtime-Invoked-Function-Arn"),
			"trace":        resp.Header.Get("Lambda-Runtime-Trace-Id"),
			"groups":       groups(),
			"fs":           fsOut,
		})
		post(api+"/invocation/"+id+"/response", string(out))
	}
}

func groups() []int {
	g, _ := os.Getgroups()
	return g
}

func post(url, body string) {
	resp, err := http.Post(url, "application/json", bytes.NewBufferString(body))
	if err != nil {
		fmt.Fprintln(os.Stderr, "post:", err)
		os.Exit(3)
	}
	resp.Body.Close()
}
