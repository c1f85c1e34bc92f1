package lambda

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/sockerless-lambda/sockerless/simulator/awsapi"
)

// Invoke payload limits (B.6).
const (
	maxSyncPayload  = 6 << 20
	maxAsyncPayload = 1 << 20
)

// invocation is one request to run the function. An asynchronous event
// keeps its request ID across retries, as Lambda's does.
type invocation struct {
	id            string
	traceID       string
	payload       []byte
	clientContext string
	async         bool
	tail          bool
	received      time.Time
	attempt       int // 0 for the first try

	delivered chan struct{} // closed when the runtime took it from /next
	start     time.Time     // set by /next
	deadline  time.Time     // set by /next

	done chan invokeResult // synchronous callers wait here
}

// invokeResult is what Invoke answers.
type invokeResult struct {
	payload       []byte
	functionError string // "Unhandled" for any function error
	logTail       []byte
}

func newInvocation(payload []byte) *invocation {
	id := awsapi.RequestID()
	now := time.Now()
	return &invocation{
		id:        id,
		traceID:   fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0", now.Unix(), randomHex(12), randomHex(8)),
		payload:   payload,
		received:  now,
		delivered: make(chan struct{}),
	}
}

func (s *Service) invoke(w http.ResponseWriter, r *http.Request) {
	fn, _, err := s.lookupQualified(r)
	if err != nil {
		fail(w, err)
		return
	}
	typ := r.Header.Get("X-Amz-Invocation-Type")
	if typ == "" {
		typ = "RequestResponse"
	}
	logType := r.Header.Get("X-Amz-Log-Type")
	var v violations
	if typ != "RequestResponse" && typ != "Event" && typ != "DryRun" {
		v.add(typ, "invocationType", "Member must satisfy enum value set: [Event, RequestResponse, DryRun]")
	}
	if logType != "" && logType != "None" && logType != "Tail" {
		v.add(logType, "logType", "Member must satisfy enum value set: [None, Tail]")
	}
	if err := v.err(); err != nil {
		fail(w, err)
		return
	}
	limit := int64(maxSyncPayload)
	if typ == "Event" {
		limit = maxAsyncPayload
	}
	payload, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		fail(w, errInvalidContent("Could not read request body: "+err.Error()))
		return
	}
	if int64(len(payload)) > limit {
		fail(w, errTooLarge(fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", limit)))
		return
	}
	if len(payload) == 0 {
		payload = []byte("{}")
	} else if !json.Valid(payload) {
		fail(w, errInvalidContent("Could not parse request body into json: Could not parse payload into json: invalid JSON"))
		return
	}
	inv := newInvocation(payload)
	inv.tail = logType == "Tail" && typ == "RequestResponse"
	if cc := r.Header.Get("X-Amz-Client-Context"); cc != "" && typ == "RequestResponse" {
		b, err := base64.StdEncoding.DecodeString(cc)
		if err != nil || !json.Valid(b) {
			fail(w, errInvalidContent("Client context must be a valid Base64-encoded JSON object."))
			return
		}
		inv.clientContext = string(b)
	}

	s.mu.Lock()
	state := fn.conf.State
	s.mu.Unlock()
	if state != "Active" {
		fail(w, errConflict("The operation cannot be performed at this time. The function is currently in the following state: "+state))
		return
	}

	w.Header().Set("x-amzn-RequestId", inv.id)
	switch typ {
	case "DryRun":
		w.WriteHeader(http.StatusNoContent)
	case "Event":
		inv.async = true
		s.enqueue(fn, inv)
		w.WriteHeader(http.StatusAccepted)
	default:
		res, err := s.invokeSync(fn, inv)
		if err != nil {
			fail(w, err)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("X-Amz-Executed-Version", "$LATEST")
		if res.functionError != "" {
			h.Set("X-Amz-Function-Error", res.functionError)
		}
		if inv.tail {
			h.Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString(res.logTail))
		}
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(res.payload)
	}
}

// invokeSync runs inv and waits for its result. The caller going away does
// not stop it: Lambda runs an invocation to its end.
func (s *Service) invokeSync(fn *function, inv *invocation) (invokeResult, error) {
	sl, reason := s.takeSlot(fn)
	if sl == nil {
		return invokeResult{}, errThrottled(reason)
	}
	e, err := s.acquire(fn)
	if err != nil {
		s.releaseSlot(sl)
		var fe *functionError
		if errors.As(err, &fe) {
			return fe.result(inv.id), nil
		}
		return invokeResult{}, err
	}
	inv.done = make(chan invokeResult, 1)
	go s.execute(fn, e, inv, sl)
	return <-inv.done, nil
}

// functionError is a failure Lambda reports as the invocation's function
// error (200, X-Amz-Function-Error) rather than as an API error.
type functionError struct {
	errType, msg string
}

func (f *functionError) Error() string { return f.errType + ": " + f.msg }

func (f *functionError) result(requestID string) invokeResult {
	return errorResult(f.errType, "RequestId: "+requestID+" Error: "+f.msg)
}

// enqueue queues an asynchronous event for the function's dispatcher.
func (s *Service) enqueue(fn *function, inv *invocation) {
	s.mu.Lock()
	if fn.ctx.Err() != nil {
		s.mu.Unlock()
		return
	}
	fn.queue = append(fn.queue, inv)
	s.mu.Unlock()
	select {
	case fn.kick <- struct{}{}:
	default:
	}
}

// startDispatcher runs the function's async queue until it is deleted: each
// event, once a concurrency slot is free, goes to an idle warm environment
// or a new one; without a slot, events wait in order.
func (s *Service) startDispatcher(fn *function) {
	go func() {
		for {
			s.mu.Lock()
			freed := s.slotFreed
			for len(fn.queue) > 0 {
				sl, _ := s.takeSlotLocked(fn)
				if sl == nil {
					break
				}
				inv := fn.queue[0]
				fn.queue = fn.queue[1:]
				go s.runAsync(fn, inv, sl)
			}
			var wake <-chan struct{}
			if len(fn.queue) > 0 {
				wake = freed
			}
			s.mu.Unlock()
			select {
			case <-fn.ctx.Done():
				return
			case <-fn.kick:
			case <-wake:
			}
		}
	}()
}

// runAsync runs one attempt of an event and schedules a retry after a
// function error, as the event-invoke config allows.
func (s *Service) runAsync(fn *function, inv *invocation, sl *slot) {
	s.mu.Lock()
	retries, maxAge := 2, 6*time.Hour
	if c := fn.invokeCfg; c != nil {
		if c.MaximumRetryAttempts != nil {
			retries = int(*c.MaximumRetryAttempts)
		}
		if c.MaximumEventAgeInSeconds != nil {
			maxAge = time.Duration(*c.MaximumEventAgeInSeconds) * time.Second
		}
	}
	name := fn.conf.FunctionName
	s.mu.Unlock()
	if age := time.Since(inv.received); age > maxAge {
		s.releaseSlot(sl)
		slog.Info("lambda: event dropped: older than MaximumEventAgeInSeconds", "function", name, "requestId", inv.id, "age", age)
		return
	}

	failed := true
	if e, err := s.acquire(fn); err != nil {
		s.releaseSlot(sl)
		if fn.ctx.Err() != nil {
			return
		}
		slog.Warn("lambda: no environment for event", "function", name, "requestId", inv.id, "err", err)
	} else {
		failed = s.execute(fn, e, inv, sl).functionError != ""
	}
	if !failed {
		return
	}
	if inv.attempt >= retries {
		slog.Info("lambda: event failed, no retries left", "function", name, "requestId", inv.id, "attempts", inv.attempt+1)
		return
	}
	delays := s.cfg.RetryDelays
	delay := time.Duration(0)
	if len(delays) > 0 {
		delay = delays[min(inv.attempt, len(delays)-1)]
	}
	next := &invocation{
		id: inv.id, traceID: inv.traceID, payload: inv.payload, async: true,
		received: inv.received, attempt: inv.attempt + 1, delivered: make(chan struct{}),
	}
	slog.Info("lambda: event failed, retrying", "function", name, "requestId", inv.id, "attempt", next.attempt, "delay", delay)
	time.AfterFunc(delay, func() { s.enqueue(fn, next) })
}

// execute runs inv on e, then returns e to the warm pool or discards it,
// and gives back the invocation's concurrency slot.
func (s *Service) execute(fn *function, e *environment, inv *invocation, sl *slot) invokeResult {
	released := false
	res, keep := e.run(inv, func() {
		// The runtime is back at /next: the environment and the slot are free
		// for the next invocation, which waits in run for END and REPORT.
		released = true
		s.release(fn, e, true)
		s.releaseSlot(sl)
	})
	if !released {
		s.release(fn, e, keep)
		s.releaseSlot(sl)
	}
	return res
}

// acquire takes the most recently used idle environment, or starts one.
func (s *Service) acquire(fn *function) (*environment, error) {
	s.mu.Lock()
	for len(fn.idle) > 0 {
		e := fn.idle[len(fn.idle)-1]
		fn.idle = fn.idle[:len(fn.idle)-1]
		if e.idleTimer != nil {
			e.idleTimer.Stop()
			e.idleTimer = nil
		}
		if e.dead.Load() || isClosed(e.exited) {
			go e.destroy("runtime exited while idle")
			continue
		}
		s.mu.Unlock()
		return e, nil
	}
	conf, pullRef, gen := fn.live, fn.livePullRef, fn.generation
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(fn.ctx, 5*time.Minute)
	defer cancel()
	e, err := s.startEnvironment(ctx, fn, conf, pullRef)
	if err != nil {
		if fn.ctx.Err() != nil {
			return nil, errFunctionNotFound(conf.FunctionArn)
		}
		var fe *functionError
		var apiErr *awsapi.RestJSONError
		if errors.As(err, &fe) || errors.As(err, &apiErr) {
			// A function error, or Invoke's own error (a file system that
			// cannot be mounted): the caller gets it as Lambda gives it.
			return nil, err
		}
		slog.Error("lambda: start execution environment", "function", conf.FunctionName, "err", err)
		return nil, errService("Lambda could not start an execution environment for " + conf.FunctionName + ": " + err.Error())
	}
	s.mu.Lock()
	gone := fn.ctx.Err() != nil || s.closed
	e.gen = gen
	if !gone {
		fn.envs[e] = true
	}
	s.mu.Unlock()
	if gone {
		e.destroy("function deleted")
		return nil, errFunctionNotFound(conf.FunctionArn)
	}
	return e, nil
}

// release returns a healthy environment to the warm pool, where it waits for
// the next invocation until IdleTimeout; any other is discarded.
func (s *Service) release(fn *function, e *environment, keep bool) {
	if keep {
		s.mu.Lock()
		// An environment of a configuration an update replaced retires.
		if fn.ctx.Err() == nil && !s.closed && fn.envs[e] && !isClosed(e.exited) && e.gen == fn.generation {
			fn.idle = append(fn.idle, e)
			e.idleTimer = time.AfterFunc(s.cfg.IdleTimeout, func() {
				if s.takeIdle(e) {
					// Let a finishing invocation write its last lines first.
					e.runMu.Lock()
					e.runMu.Unlock() //nolint:staticcheck // a barrier, not a critical section
					e.destroy("idle timeout")
				}
			})
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
	}
	e.destroy("invocation ended the environment")
}

// takeIdle removes e from its function's warm pool; false if it was not idle.
func (s *Service) takeIdle(e *environment) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn := e.fn
	for i, x := range fn.idle {
		if x == e {
			fn.idle = append(fn.idle[:i], fn.idle[i+1:]...)
			if e.idleTimer != nil {
				e.idleTimer.Stop()
				e.idleTimer = nil
			}
			return true
		}
	}
	return false
}

// forget drops every reference the function holds to e.
func (s *Service) forget(e *environment) {
	s.takeIdle(e)
	s.mu.Lock()
	delete(e.fn.envs, e)
	s.mu.Unlock()
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

type outcome int

const (
	outcomeResult outcome = iota // the runtime posted a response or an error
	outcomeExited
	outcomeInitFailed
	outcomeTimedOut
)

// run hands inv to the runtime and waits for its result, the runtime's
// exit or the timeout, whichever comes first; then writes END and REPORT.
// keep reports whether the environment can serve another invocation.
// reusable is called once the environment can take the next invocation.
func (e *environment) run(inv *invocation, reusable func()) (res invokeResult, keep bool) {
	e.runMu.Lock()
	defer e.runMu.Unlock()
	timeout := time.Duration(e.conf.Timeout) * time.Second
	cold := e.invocations == 0
	e.invocations++
	e.out.beginCapture(inv.tail)

	// A cold start may spend up to InitTimeout in init before the
	// invocation's own timeout starts.
	limit := timeout
	if cold {
		limit += e.svc.cfg.InitTimeout
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()

	var out outcome
	var rr runtimeResult
	var initDur time.Duration
	failed := false
	if cold {
		select {
		case <-e.ready:
		case <-e.exited:
			out, failed = outcomeExited, true
		case <-e.initFailed:
			out, failed = outcomeInitFailed, true
		case <-timer.C:
			out, failed = outcomeTimedOut, true
		}
		if t := e.initEnd.Load(); t != 0 {
			initDur = time.Unix(0, t).Sub(e.started)
		} else {
			initDur = time.Since(e.started)
		}
		// Output written during init belongs before START.
		e.out.settle()
	}
	e.out.platform(e.startLine(inv.id))
	delivered := false
	if !failed {
		select {
		case e.events <- inv:
			<-inv.delivered
			delivered = true
		case <-e.exited:
			out = outcomeExited
		case <-e.initFailed:
			out = outcomeInitFailed
		case <-timer.C:
			out = outcomeTimedOut
		}
	}
	if !delivered {
		inv.start = time.Now()
	}

	if delivered {
		timer.Reset(time.Until(inv.deadline))
		select {
		case rr = <-e.results:
			out = outcomeResult
		case <-e.exited:
			// A runtime may post its result and exit at once: the result wins.
			select {
			case rr = <-e.results:
				out = outcomeResult
			default:
				out = outcomeExited
			}
		case <-e.initFailed:
			out = outcomeInitFailed
		case <-timer.C:
			out = outcomeTimedOut
		}
	}
	end := time.Now()
	duration := end.Sub(inv.start)

	var lines []string
	st := endStatus{status: "success"}
	switch out {
	case outcomeResult:
		res.payload = rr.payload
		if rr.errType != "" {
			res.functionError = "Unhandled"
			st.status = "error"
		}
	case outcomeExited:
		reason := e.exitReason()
		res = errorResult("Runtime.ExitError", fmt.Sprintf("RequestId: %s Error: %s", inv.id, reason))
		lines = append(lines, fmt.Sprintf("RequestId: %s Error: %s\nRuntime.ExitError\n", inv.id, reason))
		st = endStatus{status: "error", errorType: "Runtime.ExitError", platform: true}
	case outcomeInitFailed:
		res = invokeResult{payload: e.initErr, functionError: "Unhandled"}
		var body struct{ ErrorType string }
		_ = json.Unmarshal(e.initErr, &body)
		st = endStatus{status: "error", errorType: orDefault(body.ErrorType, "Runtime.Unknown"), platform: true}
	case outcomeTimedOut:
		secs := fmt.Sprintf("%.2f", timeout.Seconds())
		res = errorResult("Sandbox.Timedout", fmt.Sprintf("RequestId: %s Error: Task timed out after %s seconds", inv.id, secs))
		lines = append(lines, fmt.Sprintf("%s %s Task timed out after %s seconds\n", end.UTC().Format(jsonTimeLayout), inv.id, secs))
		duration = timeout
		st = endStatus{status: "timeout", platform: true}
	}
	if e.jsonLogs() {
		lines = nil // the JSON records carry the status instead
	}
	keep = out == outcomeResult
	mem := e.maxMemoryMB()
	if keep {
		// Free before answering, so that a caller's next invoke finds the
		// environment and the concurrency slot free.
		reusable()
	}

	// Answer at once unless the caller wants the log; END and REPORT follow.
	if !inv.tail && inv.done != nil {
		inv.done <- res
	}
	if keep {
		e.out.settle()
	} else {
		e.kill()
		e.out.drain(5 * time.Second)
	}
	for _, l := range lines {
		e.out.platform(l)
	}
	e.out.platform(e.endLine(inv.id, st, duration))
	e.out.platform(e.reportLine(inv.id, st, reportMetrics{duration: duration, cold: cold, initDur: initDur, memSize: e.conf.MemorySize, memUsed: mem}))
	if inv.tail {
		res.logTail = e.out.endCapture()
		if inv.done != nil {
			inv.done <- res
		}
	}
	return res, keep
}

func errorResult(typ, msg string) invokeResult {
	return invokeResult{
		payload:       mustJSON(map[string]string{"errorType": typ, "errorMessage": msg}),
		functionError: "Unhandled",
	}
}
