package lambda

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/sockerless-lambda/sockerless/simulator/awsapi"
)

// Register adds Lambda's routes to mux. Every other path under Lambda's API
// versions answers as an unknown operation, never with another op's body.
func (s *Service) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /2015-03-31/functions", s.createFunction)
	mux.HandleFunc("GET /2015-03-31/functions/{$}", s.listFunctions)
	mux.HandleFunc("GET /2015-03-31/functions", s.listFunctions)
	mux.HandleFunc("GET /2015-03-31/functions/{name}", s.getFunction)
	mux.HandleFunc("DELETE /2015-03-31/functions/{name}", s.deleteFunction)
	mux.HandleFunc("GET /2015-03-31/functions/{name}/configuration", s.getFunctionConfiguration)
	mux.HandleFunc("POST /2015-03-31/functions/{name}/invocations", s.invoke)
	mux.HandleFunc("PUT /2015-03-31/functions/{name}/configuration", s.updateFunctionConfiguration)
	mux.HandleFunc("PUT /2015-03-31/functions/{name}/code", s.updateFunctionCode)

	mux.HandleFunc("PUT /2017-10-31/functions/{name}/concurrency", s.putFunctionConcurrency)
	mux.HandleFunc("DELETE /2017-10-31/functions/{name}/concurrency", s.deleteFunctionConcurrency)
	mux.HandleFunc("GET /2019-09-30/functions/{name}/concurrency", s.getFunctionConcurrency)
	mux.HandleFunc("GET /2016-08-19/account-settings/{$}", s.getAccountSettings)
	mux.HandleFunc("GET /2016-08-19/account-settings", s.getAccountSettings)

	mux.HandleFunc("PUT /2019-09-25/functions/{name}/event-invoke-config", s.putEventInvokeConfig)
	mux.HandleFunc("POST /2019-09-25/functions/{name}/event-invoke-config", s.updateEventInvokeConfig)
	mux.HandleFunc("GET /2019-09-25/functions/{name}/event-invoke-config", s.getEventInvokeConfig)
	mux.HandleFunc("DELETE /2019-09-25/functions/{name}/event-invoke-config", s.deleteEventInvokeConfig)

	mux.HandleFunc("POST /2017-03-31/tags/{arn...}", s.tagResource)
	mux.HandleFunc("GET /2017-03-31/tags/{arn...}", s.listTags)
	mux.HandleFunc("DELETE /2017-03-31/tags/{arn...}", s.untagResource)

	for _, prefix := range []string{"/2015-03-31/", "/2019-09-25/", "/2017-03-31/", "/2017-10-31/", "/2019-09-30/", "/2016-08-19/"} {
		mux.HandleFunc(prefix, unknownOperation)
	}
}

// fail writes err as Lambda does; errors that are not AWS errors become a
// ServiceException, so a client always gets a well-formed answer.
func fail(w http.ResponseWriter, err error) {
	var aerr *awsapi.RestJSONError
	if !errors.As(err, &aerr) {
		aerr = errService(err.Error())
	}
	awsapi.WriteRestJSONError(w, aerr)
}

// decodeBody reads a rest-json request body into v. An empty body is an
// empty object, as for AWS.
func decodeBody(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 70<<20))
	if err != nil {
		return errInvalidContent("Could not read request body: " + err.Error())
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errInvalidContent("Could not parse request body into json: " + err.Error())
	}
	return nil
}

// The FunctionName pattern from the Lambda model (B.2).
var functionNameRE = regexp.MustCompile(`^(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?$`)

const functionNamePattern = `(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?`

// functionRef is a FunctionName as a caller gave it: a name, a partial ARN or
// a full ARN, each optionally qualified.
type functionRef struct {
	name      string
	qualifier string // "" when none was given
}

// parseFunctionName validates and splits a FunctionName the way every
// operation does.
func (s *Service) parseFunctionName(raw string) (functionRef, error) {
	var v violations
	switch {
	case raw == "":
		v.add(raw, "functionName", "Member must have length greater than or equal to 1")
		return functionRef{}, v.err()
	case len(raw) > 140:
		v.add(raw, "functionName", "Member must have length less than or equal to 140")
		return functionRef{}, v.err()
	}
	m := functionNameRE.FindStringSubmatch(raw)
	if m == nil {
		v.add(raw, "functionName", "Member must satisfy regular expression pattern: "+functionNamePattern)
		return functionRef{}, v.err()
	}
	ref := functionRef{name: m[7], qualifier: m[9]}
	if len(ref.name) > 64 {
		// AWS's quirk: an over-long plain name is an InvalidParameterValueException
		// carrying the model-constraint text.
		v.add(raw, "functionName", "Member must have length less than or equal to 64")
		return functionRef{}, errInvalidParameter(v.err().Message)
	}
	if (m[3] != "" && strings.TrimSuffix(m[3], ":") != s.cfg.Region) ||
		(m[5] != "" && strings.TrimSuffix(m[5], ":") != s.cfg.AccountID) {
		// A function in another region or account is not one of ours.
		return functionRef{}, errFunctionNotFound(raw)
	}
	return ref, nil
}

// functionARN is the unqualified ARN of the named function.
func (s *Service) functionARN(name string) string {
	return "arn:aws:lambda:" + s.cfg.Region + ":" + s.cfg.AccountID + ":function:" + name
}

// refARN is the ARN as AWS quotes it in "Function not found": qualified when
// the caller qualified it.
func (s *Service) refARN(ref functionRef) string {
	if ref.qualifier != "" {
		return s.functionARN(ref.name) + ":" + ref.qualifier
	}
	return s.functionARN(ref.name)
}
