package lambda

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"
)

// maxResponse is Lambda's limit on a synchronous response payload.
const maxResponse = 6 << 20

// runtimeAPI serves the Lambda Runtime API (2018-06-01) to the environment's
// runtime.
func (e *environment) runtimeAPI() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", e.next)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", e.response)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", e.invocationError)
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", e.initError)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		runtimeError(w, http.StatusNotFound, "InvalidRequest", "Unknown Runtime API path "+r.Method+" "+r.URL.Path)
	})
	return mux
}

func runtimeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errorMessage": msg, "errorType": typ})
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write([]byte(`{"status":"OK"}` + "\n"))
}

// next long-polls for the next invocation. The first call ends the init phase.
func (e *environment) next(w http.ResponseWriter, r *http.Request) {
	if e.initEnd.CompareAndSwap(0, time.Now().UnixNano()) {
		close(e.ready)
	}
	var inv *invocation
	select {
	case inv = <-e.events:
	case <-r.Context().Done():
		return
	}
	// The invocation's clock starts when the runtime takes it.
	inv.start = time.Now()
	inv.deadline = inv.start.Add(time.Duration(e.conf.Timeout) * time.Second)
	e.current.Store(inv)
	close(inv.delivered)

	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", e.conf.FunctionArn)
	h.Set("Lambda-Runtime-Trace-Id", inv.traceID)
	if inv.clientContext != "" {
		h.Set("Lambda-Runtime-Client-Context", inv.clientContext)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.payload)
}

// take claims the current invocation for a result; a second result for the
// same invocation, or one for another ID, is refused.
func (e *environment) take(w http.ResponseWriter, id string) bool {
	inv := e.current.Load()
	if inv == nil || inv.id != id || !e.current.CompareAndSwap(inv, nil) {
		runtimeError(w, http.StatusBadRequest, "InvalidRequestID", "Invalid request ID")
		return false
	}
	return true
}

func (e *environment) response(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body, err := io.ReadAll(io.LimitReader(r.Body, maxResponse+1))
	if err != nil {
		runtimeError(w, http.StatusBadRequest, "InvalidRequest", "Cannot read the response body: "+err.Error())
		return
	}
	if !e.take(w, id) {
		return
	}
	if len(body) > maxResponse {
		e.deliver(runtimeResult{id: id, errType: "Unhandled", payload: mustJSON(map[string]string{
			"errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
			"errorType":    "Function.ResponseSizeTooLarge",
		})})
		runtimeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "Response payload size exceeded maximum allowed payload size (6291556 bytes).")
		return
	}
	e.deliver(runtimeResult{id: id, payload: body})
	accepted(w)
}

func (e *environment) invocationError(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	body := errorBody(r)
	if !e.take(w, id) {
		return
	}
	e.deliver(runtimeResult{id: id, errType: "Unhandled", payload: body})
	accepted(w)
}

func (e *environment) initError(w http.ResponseWriter, r *http.Request) {
	body := errorBody(r)
	e.initFailOnce.Do(func() {
		e.initErr = body
		close(e.initFailed)
	})
	accepted(w)
}

// errorBody is the error document the runtime posted; a body that is not a
// JSON object is wrapped the way Lambda reports an unknown error.
func errorBody(r *http.Request) []byte {
	body, _ := io.ReadAll(io.LimitReader(r.Body, maxResponse))
	var obj map[string]any
	if json.Unmarshal(body, &obj) == nil && obj != nil {
		return body
	}
	typ := r.Header.Get("Lambda-Runtime-Function-Error-Type")
	if typ == "" {
		typ = "Runtime.Unknown"
	}
	return mustJSON(map[string]string{"errorMessage": string(body), "errorType": typ})
}

// deliver hands a result to the waiting invoker. take admits one result per
// invocation, so the buffer always has room; never block a handler regardless.
func (e *environment) deliver(r runtimeResult) {
	select {
	case e.results <- r:
	default:
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
