// Package awsapi writes answers the way AWS services write them, for the
// wire protocols the simulator speaks: rest-json (Lambda), JSON 1.1
// (CloudWatch Logs, ECR) and query (STS).
package awsapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
)

// RequestID returns a fresh request ID in AWS's UUID form.
func RequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// WriteJSON writes a rest-json success body.
func WriteJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	setRequestID(w)
	w.WriteHeader(status)
	if body != nil {
		_ = json.NewEncoder(w).Encode(body)
	}
}

// RestJSONError is a rest-json (Lambda) error. MessageField is "message" or
// "Message": AWS's Lambda models spell it differently per exception.
type RestJSONError struct {
	Status       int
	Code         string // x-amzn-ErrorType
	Message      string
	MessageField string            // default "Message"
	Type         string            // "User" or "Service"; omitted when empty
	Extra        map[string]string // more body members, e.g. Reason
	Headers      map[string]string // e.g. Retry-After
}

func (e *RestJSONError) Error() string { return e.Code + ": " + e.Message }

// WriteRestJSONError writes e as Lambda does.
func WriteRestJSONError(w http.ResponseWriter, e *RestJSONError) {
	field := e.MessageField
	if field == "" {
		field = "Message"
	}
	body := map[string]string{field: e.Message}
	if e.Type != "" {
		body["Type"] = e.Type
	}
	for k, v := range e.Extra {
		body[k] = v
	}
	for k, v := range e.Headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("x-amzn-ErrorType", e.Code)
	WriteJSON(w, e.Status, body)
}

// JSON11Error is an error of the JSON 1.1 protocol (CloudWatch Logs, ECR).
type JSON11Error struct {
	Status  int // 400 unless set
	Code    string
	Message string
}

func (e *JSON11Error) Error() string { return e.Code + ": " + e.Message }

// WriteJSON11 writes a JSON 1.1 success body.
func WriteJSON11(w http.ResponseWriter, body any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	setRequestID(w)
	w.WriteHeader(http.StatusOK)
	if body == nil {
		body = struct{}{}
	}
	_ = json.NewEncoder(w).Encode(body)
}

// WriteJSON11Error writes e as CloudWatch Logs and ECR do.
func WriteJSON11Error(w http.ResponseWriter, e *JSON11Error) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-ErrorType", e.Code)
	setRequestID(w)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.Code, "message": e.Message})
}

// WriteQueryXML writes a query-protocol (STS) success body.
func WriteQueryXML(w http.ResponseWriter, body any) {
	w.Header().Set("Content-Type", "text/xml")
	setRequestID(w)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(xml.Header))
	_ = xml.NewEncoder(w).Encode(body)
}

// WriteQueryError writes a query-protocol error.
func WriteQueryError(w http.ResponseWriter, status int, code, message string) {
	type errBody struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		Error   struct {
			Type    string `xml:"Type"`
			Code    string `xml:"Code"`
			Message string `xml:"Message"`
		} `xml:"Error"`
		RequestID string `xml:"RequestId"`
	}
	var b errBody
	b.Error.Type, b.Error.Code, b.Error.Message = "Sender", code, message
	b.RequestID = RequestID()
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(b)
}

func setRequestID(w http.ResponseWriter) {
	if w.Header().Get("x-amzn-RequestId") == "" {
		w.Header().Set("x-amzn-RequestId", RequestID())
	}
}

// DecodeJSON11 reads a JSON 1.1 request body into v, failing as AWS does.
func DecodeJSON11(r *http.Request, v any) error {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return &JSON11Error{Code: "SerializationException", Message: "Malformed request body: " + err.Error()}
	}
	return nil
}

// RespondJSON11 writes an operation's result: out, or err as AWS words it.
// An error that is not already an AWS error is the service's own failure:
// logged, and answered 500 with internalCode.
func RespondJSON11(w http.ResponseWriter, service, op, internalCode string, out any, err error) {
	if err != nil {
		var apiErr *JSON11Error
		if !errors.As(err, &apiErr) {
			slog.Error(service, "op", op, "err", err)
			apiErr = &JSON11Error{Status: http.StatusInternalServerError, Code: internalCode, Message: err.Error()}
		}
		WriteJSON11Error(w, apiErr)
		return
	}
	WriteJSON11(w, out)
}
