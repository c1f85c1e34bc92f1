package efs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/sockerless-lambda/sockerless/simulator/awsapi"
)

// EFS's errors carry their code twice, in x-amzn-ErrorType and in the body's
// ErrorCode member, next to Message and, for the AlreadyExists errors, the
// existing resource's ID.

func efsError(status int, code, msg string, extra ...string) *awsapi.RestJSONError {
	e := &awsapi.RestJSONError{Status: status, Code: code, Message: msg, Extra: map[string]string{"ErrorCode": code}}
	for i := 0; i+1 < len(extra); i += 2 {
		e.Extra[extra[i]] = extra[i+1]
	}
	return e
}

func errBadRequest(format string, a ...any) *awsapi.RestJSONError {
	return efsError(http.StatusBadRequest, "BadRequest", fmt.Sprintf(format, a...))
}

func errFileSystemNotFound(id string) *awsapi.RestJSONError {
	return efsError(http.StatusNotFound, "FileSystemNotFound", fmt.Sprintf("File system '%s' does not exist.", id))
}

func errAccessPointNotFound(id string) *awsapi.RestJSONError {
	return efsError(http.StatusNotFound, "AccessPointNotFound", fmt.Sprintf("Access point '%s' does not exist.", id))
}

func errFileSystemAlreadyExists(id, token string) *awsapi.RestJSONError {
	return efsError(http.StatusConflict, "FileSystemAlreadyExists",
		fmt.Sprintf("File system '%s' already exists with creation token '%s'", id, token), "FileSystemId", id)
}

func errAccessPointAlreadyExists(id, token string) *awsapi.RestJSONError {
	return efsError(http.StatusConflict, "AccessPointAlreadyExists",
		fmt.Sprintf("Access point '%s' already exists with client token '%s' and different parameters", id, token), "AccessPointId", id)
}

// errFileSystemInUse refuses to delete a file system that still has access
// points. EFS documents FileSystemInUse for mount targets, which the
// simulator does not have; access points are what its functions mount, and a
// file system deleted under them would take their data along.
func errFileSystemInUse(id string, n int) *awsapi.RestJSONError {
	return efsError(http.StatusConflict, "FileSystemInUse",
		fmt.Sprintf("File system '%s' has %d access point(s). Delete them before deleting the file system.", id, n))
}

func errAccessPointLimit(id string) *awsapi.RestJSONError {
	return efsError(http.StatusForbidden, "AccessPointLimitExceeded",
		fmt.Sprintf("You have reached the maximum number of access points (%d) for file system '%s'.", maxAccessPoints, id))
}

// violations collects model-constraint failures, which AWS reports together
// as one ValidationException.
type violations []string

func (v *violations) add(value any, member, constraint string) {
	s := fmt.Sprintf("'%v'", value)
	if value == nil {
		s = "null"
	}
	*v = append(*v, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", s, member, constraint))
}

func (v *violations) null(member string) { v.add(nil, member, "Member must not be null") }

func (v violations) err() error {
	if len(v) == 0 {
		return nil
	}
	noun := "error"
	if len(v) > 1 {
		noun = "errors"
	}
	return efsError(http.StatusBadRequest, "ValidationException",
		fmt.Sprintf("%d validation %s detected: %s", len(v), noun, strings.Join(v, "; ")))
}

// respond writes out with status, or err as EFS words it. An error that is
// not already an AWS error is the service's own failure: logged, and answered
// 500 InternalServerError.
func respond(w http.ResponseWriter, op string, status int, out any, err error) {
	if err != nil {
		var apiErr *awsapi.RestJSONError
		if !errors.As(err, &apiErr) {
			slog.Error("efs", "op", op, "err", err)
			apiErr = efsError(http.StatusInternalServerError, "InternalServerError", err.Error())
		}
		awsapi.WriteRestJSONError(w, apiErr)
		return
	}
	if out == nil {
		w.Header().Set("x-amzn-RequestId", awsapi.RequestID())
		w.WriteHeader(status)
		return
	}
	awsapi.WriteJSON(w, status, out)
}

// decode reads a rest-json request body into v; an empty body is an empty
// object, as for AWS.
func decode(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return errBadRequest("Could not read request body: %v", err)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return efsError(http.StatusBadRequest, "SerializationException", "Could not parse request body into json: "+err.Error())
	}
	return nil
}
