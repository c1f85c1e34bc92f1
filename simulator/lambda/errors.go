package lambda

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/sockerless-lambda/sockerless/simulator/awsapi"
)

// Lambda's exceptions spell their message member differently: the model gives
// ResourceNotFoundException and ServiceException "Message", most others
// "message". Each constructor below uses its exception's spelling.

func errNotFound(msg string) *awsapi.RestJSONError {
	return &awsapi.RestJSONError{Status: http.StatusNotFound, Code: "ResourceNotFoundException", Message: msg, Type: "User"}
}

func errFunctionNotFound(arn string) *awsapi.RestJSONError {
	return errNotFound("Function not found: " + arn)
}

func errConflict(msg string) *awsapi.RestJSONError {
	return &awsapi.RestJSONError{Status: http.StatusConflict, Code: "ResourceConflictException", Message: msg, MessageField: "message", Type: "User"}
}

func errInvalidParameter(msg string) *awsapi.RestJSONError {
	return &awsapi.RestJSONError{Status: http.StatusBadRequest, Code: "InvalidParameterValueException", Message: msg, MessageField: "message", Type: "User"}
}

func errInvalidContent(msg string) *awsapi.RestJSONError {
	return &awsapi.RestJSONError{Status: http.StatusBadRequest, Code: "InvalidRequestContentException", Message: msg, MessageField: "message", Type: "User"}
}

func errTooLarge(msg string) *awsapi.RestJSONError {
	return &awsapi.RestJSONError{Status: http.StatusRequestEntityTooLarge, Code: "RequestTooLargeException", Message: msg, MessageField: "message", Type: "User"}
}

func errService(msg string) *awsapi.RestJSONError {
	return &awsapi.RestJSONError{Status: http.StatusInternalServerError, Code: "ServiceException", Message: msg, Type: "Service"}
}

// violations collects model-constraint failures, which AWS reports together
// as one ValidationException without a Type member.
type violations []string

func (v *violations) add(value any, member, constraint string) {
	*v = append(*v, fmt.Sprintf("Value '%v' at '%s' failed to satisfy constraint: %s", value, member, constraint))
}

func (v violations) err() *awsapi.RestJSONError {
	if len(v) == 0 {
		return nil
	}
	noun := "error"
	if len(v) > 1 {
		noun = "errors"
	}
	return &awsapi.RestJSONError{
		Status:       http.StatusBadRequest,
		Code:         "ValidationException",
		MessageField: "message",
		Message:      fmt.Sprintf("%d validation %s detected: %s", len(v), noun, strings.Join(v, "; ")),
	}
}

// unknownOperation answers a request no Lambda operation matches, without
// ever falling into another operation's handler.
func unknownOperation(w http.ResponseWriter, r *http.Request) {
	awsapi.WriteRestJSONError(w, &awsapi.RestJSONError{
		Status: http.StatusNotFound, Code: "UnknownOperationException",
		Message: "Unknown operation " + r.Method + " " + r.URL.Path,
	})
}

func errPreconditionFailed(msg string) *awsapi.RestJSONError {
	return &awsapi.RestJSONError{Status: http.StatusPreconditionFailed, Code: "PreconditionFailedException", Message: msg, MessageField: "message", Type: "User"}
}

// errThrottled is the 429 of an invoke over a concurrency limit; reason is
// AWS's ThrottleReason.
func errThrottled(reason string) *awsapi.RestJSONError {
	return &awsapi.RestJSONError{
		Status: http.StatusTooManyRequests, Code: "TooManyRequestsException", Message: "Rate Exceeded.", MessageField: "message", Type: "User",
		Extra: map[string]string{"Reason": reason}, Headers: map[string]string{"Retry-After": "1"},
	}
}
