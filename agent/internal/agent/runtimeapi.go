package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Runtime API paths (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).
const (
	runtimeAPIPrefix = "/2018-06-01/runtime"

	headerRequestID  = "Lambda-Runtime-Aws-Request-Id"
	headerDeadlineMs = "Lambda-Runtime-Deadline-Ms"
)

// ErrorTypeInvalidInvocation is the errorType posted when the payload is not a
// usable protocol.Invocation.
const ErrorTypeInvalidInvocation = "Sockerless.InvalidInvocation"

// Event is one invocation taken from the Runtime API.
type Event struct {
	RequestID string
	// Deadline is when Lambda ends the invocation; zero when the header was
	// missing or unparsable.
	Deadline time.Time
	Payload  []byte
}

// RuntimeClient talks to the Lambda Runtime API at host:port.
type RuntimeClient struct {
	base string
	// No client timeout: /next long-polls for as long as the environment is
	// idle (Lambda freezes it meanwhile).
	http *http.Client
}

// NewRuntimeClient returns a client for AWS_LAMBDA_RUNTIME_API (host:port).
func NewRuntimeClient(hostPort string) *RuntimeClient {
	return &RuntimeClient{
		base: "http://" + hostPort + runtimeAPIPrefix,
		http: &http.Client{Transport: &http.Transport{
			// One connection, reused: the Runtime API is local and serial.
			MaxIdleConnsPerHost: 1,
			DisableCompression:  true,
		}},
	}
}

// Next blocks until Lambda hands over the next invocation.
func (c *RuntimeClient) Next(ctx context.Context) (Event, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/invocation/next", nil)
	if err != nil {
		return Event{}, fmt.Errorf("runtime api next: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Event{}, fmt.Errorf("runtime api next: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return Event{}, fmt.Errorf("runtime api next: read body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Event{}, fmt.Errorf("runtime api next: status %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	ev := Event{RequestID: resp.Header.Get(headerRequestID), Payload: body}
	if ev.RequestID == "" {
		return Event{}, fmt.Errorf("runtime api next: response without %s header", headerRequestID)
	}
	if ms, err := strconv.ParseInt(resp.Header.Get(headerDeadlineMs), 10, 64); err == nil && ms > 0 {
		ev.Deadline = time.UnixMilli(ms)
	}
	return ev, nil
}

// Respond completes the invocation successfully with v as its JSON result.
func (c *RuntimeClient) Respond(ctx context.Context, requestID string, v any) error {
	return c.post(ctx, "/invocation/"+requestID+"/response", v)
}

// Fail completes the invocation with an error.
func (c *RuntimeClient) Fail(ctx context.Context, requestID, errorType, message string) error {
	return c.post(ctx, "/invocation/"+requestID+"/error", map[string]any{
		"errorMessage": message,
		"errorType":    errorType,
	})
}

func (c *RuntimeClient) post(ctx context.Context, path string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("runtime api %s: encode: %w", path, err)
	}
	// Posting the result must not hang the loop forever if the API misbehaves.
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("runtime api %s: %w", path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("runtime api %s: %w", path, err)
	}
	defer resp.Body.Close()
	respBody, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("runtime api %s: status %d: %s", path, resp.StatusCode, bytes.TrimSpace(respBody))
	}
	return nil
}
