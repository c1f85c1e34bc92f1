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
		})
		post(api+"/invocation/"+id+"/response", string(out))
	}
}

func post(url, body string) {
	resp, err := http.Post(url, "application/json", bytes.NewBufferString(body))
	if err != nil {
		fmt.Fprintln(os.Stderr, "post:", err)
		os.Exit(3)
	}
	resp.Body.Close()
}
