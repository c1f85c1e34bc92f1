package backend

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/smithy-go"
	"github.com/gin-gonic/gin"
)

// apiError is an error with the HTTP status Docker would answer it with.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error { return errorf(http.StatusNotFound, format, args...) }
func conflict(format string, args ...any) error { return errorf(http.StatusConflict, format, args...) }
func badRequest(format string, args ...any) error {
	return errorf(http.StatusBadRequest, format, args...)
}
func notImplemented(format string, args ...any) error {
	return errorf(http.StatusNotImplemented, format, args...)
}

func errNoSuchContainer(ref string) error { return notFound("No such container: %s", ref) }
func errNoSuchImage(ref string) error     { return notFound("No such image: %s", ref) }

// statusOf picks the HTTP status for err: Docker's own for apiError, and for
// AWS errors the status a Docker client understands.
func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status
	}
	var oe smithy.APIError
	if errors.As(err, &oe) {
		switch oe.ErrorCode() {
		case "ResourceNotFoundException", "RepositoryNotFoundException", "ImageNotFoundException":
			return http.StatusNotFound
		case "ResourceConflictException":
			return http.StatusConflict
		case "TooManyRequestsException", "ThrottlingException", "LimitExceededException":
			return http.StatusTooManyRequests
		case "InvalidParameterValueException", "ValidationException", "InvalidParameterException":
			return http.StatusBadRequest
		case "AccessDeniedException", "AccessDeniedExceptionException":
			return http.StatusForbidden
		}
	}
	return http.StatusInternalServerError
}

// writeError answers err as Docker does: {"message": ...} with the exact
// Content-Type application/json, which clients require to show the message.
func writeError(c *gin.Context, err error) {
	writeJSON(c, statusOf(err), map[string]string{"message": err.Error()})
}

// writeJSON writes body with Content-Type exactly application/json.
func writeJSON(c *gin.Context, status int, body any) {
	c.Header("Content-Type", "application/json")
	c.Status(status)
	if body != nil {
		_ = json.NewEncoder(c.Writer).Encode(body)
	}
}

// bindJSON decodes a JSON request body; an empty body leaves v as it is.
func bindJSON(c *gin.Context, v any) error {
	if err := json.NewDecoder(c.Request.Body).Decode(v); err != nil && err != io.EOF {
		return badRequest("invalid JSON: %s", err)
	}
	return nil
}
