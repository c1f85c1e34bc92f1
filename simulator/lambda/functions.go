package lambda

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sockerless-lambda/sockerless/simulator/awsapi"
)

// Wire shapes of the rest-json protocol. Go field names are AWS's member names.

type imageConfig struct {
	EntryPoint       []string `json:",omitempty"`
	Command          []string `json:",omitempty"`
	WorkingDirectory string   `json:",omitempty"`
}

type imageConfigResponse struct {
	ImageConfig *imageConfig `json:",omitempty"`
}

type environmentVars struct {
	Variables map[string]string `json:",omitempty"`
}

type ephemeralStorage struct {
	Size int32
}

type loggingConfig struct {
	LogFormat           string `json:",omitempty"`
	LogGroup            string `json:",omitempty"`
	ApplicationLogLevel string `json:",omitempty"`
	SystemLogLevel      string `json:",omitempty"`
}

type vpcConfig struct {
	SubnetIds               []string
	SecurityGroupIds        []string
	VpcId                   string `json:",omitempty"`
	Ipv6AllowedForDualStack bool
}

type tracingConfig struct {
	Mode string
}

type deadLetterConfig struct {
	TargetArn string `json:",omitempty"`
}

type fileSystemConfig struct {
	Arn            string
	LocalMountPath string
}

type snapStart struct {
	ApplyOn            string
	OptimizationStatus string `json:",omitempty"`
}

// functionConfiguration is FunctionConfiguration as Lambda returns it.
type functionConfiguration struct {
	Architectures              []string
	CodeSha256                 string
	CodeSize                   int64
	DeadLetterConfig           *deadLetterConfig `json:",omitempty"`
	Description                string
	Environment                *environmentVars `json:",omitempty"`
	EphemeralStorage           ephemeralStorage
	FileSystemConfigs          []fileSystemConfig `json:",omitempty"`
	FunctionArn                string
	FunctionName               string
	ImageConfigResponse        *imageConfigResponse `json:",omitempty"`
	KMSKeyArn                  string               `json:",omitempty"`
	LastModified               string
	LastUpdateStatus           string `json:",omitempty"`
	LastUpdateStatusReason     string `json:",omitempty"`
	LastUpdateStatusReasonCode string `json:",omitempty"`
	LoggingConfig              loggingConfig
	MemorySize                 int32
	PackageType                string
	RevisionId                 string
	Role                       string
	SnapStart                  snapStart
	State                      string `json:",omitempty"`
	StateReason                string `json:",omitempty"`
	StateReasonCode            string `json:",omitempty"`
	Timeout                    int32
	TracingConfig              tracingConfig
	Version                    string
	VpcConfig                  *vpcConfig `json:",omitempty"`
}

// configInput holds the members CreateFunction and
// UpdateFunctionConfiguration share.
type configInput struct {
	Role              string
	Runtime           string
	Handler           string
	Description       *string
	Timeout           *int32
	MemorySize        *int32
	Environment       *environmentVars
	ImageConfig       *imageConfig
	EphemeralStorage  *ephemeralStorage
	VpcConfig         *vpcConfig
	LoggingConfig     *loggingConfig
	TracingConfig     *tracingConfig
	DeadLetterConfig  *deadLetterConfig
	KMSKeyArn         *string
	FileSystemConfigs []fileSystemConfigInput
	Layers            []string
}

type createFunctionInput struct {
	configInput
	FunctionName string
	Code         struct {
		ImageUri        string
		ZipFile         []byte
		S3Bucket        string
		S3Key           string
		S3ObjectVersion string
	}
	PackageType   string
	Publish       bool
	Architectures []string
	Tags          map[string]string
}

// function is one function: its configuration as the API shows it plus
// what running it needs. Guarded by Service.mu.
type function struct {
	conf        functionConfiguration // as the API shows it
	imageURI    string
	resolvedURI string
	pullRef     string
	tags        map[string]string
	invokeCfg   *eventInvokeConfig
	reserved    *int32 // reserved concurrency; nil draws on the account's unreserved pool

	// live is what new environments run. During an update it stays the
	// previous configuration and code, as Lambda keeps invoking those until
	// the update is done; generation then grows and older environments retire.
	live        functionConfiguration
	livePullRef string
	generation  int
	running     int // invocations holding a concurrency slot now

	// ctx ends when the function is deleted: queued and retried events die with it.
	ctx    context.Context
	cancel context.CancelFunc

	envs  map[*environment]bool // every live environment
	idle  []*environment        // warm and free, most recently used last
	queue []*invocation         // async events waiting for dispatch
	kick  chan struct{}         // wakes the async dispatcher
}

const lastModifiedLayout = "2006-01-02T15:04:05.000-0700"

var (
	roleRE        = regexp.MustCompile(`^arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$`)
	envKeyRE      = regexp.MustCompile(`^[a-zA-Z]([a-zA-Z0-9_])+$`)
	reservedEnv   = strings.Fields("_HANDLER _X_AMZN_TRACE_ID AWS_DEFAULT_REGION AWS_REGION AWS_EXECUTION_ENV AWS_LAMBDA_FUNCTION_NAME AWS_LAMBDA_FUNCTION_MEMORY_SIZE AWS_LAMBDA_FUNCTION_VERSION AWS_LAMBDA_INITIALIZATION_TYPE AWS_LAMBDA_LOG_GROUP_NAME AWS_LAMBDA_LOG_STREAM_NAME AWS_ACCESS_KEY AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_LAMBDA_RUNTIME_API LAMBDA_TASK_ROOT LAMBDA_RUNTIME_DIR")
	logGroupRE    = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]+$`)
	architectures = map[string]bool{"x86_64": true, "arm64": true}
)

const rolePattern = `arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`

// validateCreate applies the model's constraints (one ValidationException
// listing them all), then Lambda's own checks (InvalidParameterValueException).
func (s *Service) validateCreate(in *createFunctionInput) (functionRef, error) {
	ref, err := s.parseFunctionName(in.FunctionName)
	if err != nil {
		return ref, err
	}
	var v violations
	if in.Role == "" {
		v.add("null", "role", "Member must not be null")
	}
	in.configInput.check(&v)
	checkArchitectures(&v, in.Architectures)
	if in.PackageType != "" && in.PackageType != "Zip" && in.PackageType != "Image" {
		v.add(in.PackageType, "packageType", "Member must satisfy enum value set: [Zip, Image]")
	}
	if err := v.err(); err != nil {
		return ref, err
	}
	if ref.qualifier != "" {
		return ref, errInvalidParameter("Unsupported function name: a qualifier is not allowed in CreateFunction.")
	}

	switch {
	case in.PackageType == "" && (in.Runtime == "" || in.Handler == ""):
		return ref, errInvalidParameter("Runtime and Handler are mandatory parameters for functions created with deployment packages.")
	case in.PackageType != "Image":
		return ref, errInvalidParameter("The simulator runs functions of PackageType Image only; Zip deployment packages are not supported.")
	case in.Code.ImageUri == "":
		return ref, errInvalidParameter("Please provide ImageUri when creating a function with packageType Image.")
	case len(in.Code.ZipFile) > 0 || in.Code.S3Bucket != "":
		return ref, errInvalidParameter("Please don't provide ZipFile or S3 code when creating a function with packageType Image.")
	}
	if err := in.configInput.checkImageRules(); err != nil {
		return ref, err
	}
	return ref, s.checkFileSystems(in.FileSystemConfigs)
}

// check adds the model's constraint violations of the shared members.
func (in *configInput) check(v *violations) {
	if in.Role != "" && !roleRE.MatchString(in.Role) {
		v.add(in.Role, "role", "Member must satisfy regular expression pattern: "+rolePattern)
	}
	if in.MemorySize != nil {
		rangeCheck(v, int64(*in.MemorySize), "memorySize", 128, 10240)
	}
	if in.Timeout != nil {
		rangeCheck(v, int64(*in.Timeout), "timeout", 1, 900)
	}
	if in.EphemeralStorage != nil {
		rangeCheck(v, int64(in.EphemeralStorage.Size), "ephemeralStorage.size", 512, 10240)
	}
	if in.Description != nil && len(*in.Description) > 256 {
		v.add(*in.Description, "description", "Member must have length less than or equal to 256")
	}
	if in.Environment != nil {
		for k := range in.Environment.Variables {
			if !envKeyRE.MatchString(k) {
				v.add("[sensitive]", "environment.variables", "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]")
				break
			}
		}
	}
	if in.LoggingConfig != nil {
		if f := in.LoggingConfig.LogFormat; f != "" && f != "Text" && f != "JSON" {
			v.add(f, "loggingConfig.logFormat", "Member must satisfy enum value set: [JSON, Text]")
		}
		if g := in.LoggingConfig.LogGroup; g != "" && (len(g) > 512 || !logGroupRE.MatchString(g)) {
			v.add(g, "loggingConfig.logGroup", `Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+`)
		}
	}
	checkFileSystemConfigs(v, in.FileSystemConfigs)
	if in.VpcConfig != nil {
		if len(in.VpcConfig.SubnetIds) > 16 {
			v.add(in.VpcConfig.SubnetIds, "vpcConfig.subnetIds", "Member must have length less than or equal to 16")
		}
		if len(in.VpcConfig.SecurityGroupIds) > 5 {
			v.add(in.VpcConfig.SecurityGroupIds, "vpcConfig.securityGroupIds", "Member must have length less than or equal to 5")
		}
	}
}

// checkArchitectures checks an Architectures list: one of x86_64, arm64.
func checkArchitectures(v *violations, list []string) {
	if len(list) > 1 {
		v.add("["+strings.Join(list, ", ")+"]", "architectures", "Member must have length less than or equal to 1")
	}
	for _, a := range list {
		if !architectures[a] {
			v.add("["+strings.Join(list, ", ")+"]", "architectures", "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]")
			break
		}
	}
}

// checkImageRules applies Lambda's semantic checks for an Image function.
func (in *configInput) checkImageRules() error {
	switch {
	case len(in.Layers) > 0:
		return errInvalidParameter("Layers are not supported for functions with packageType Image.")
	case in.Runtime != "" || in.Handler != "":
		return errInvalidParameter("Runtime and Handler are not supported for functions with packageType Image.")
	}
	if in.Environment == nil || len(in.Environment.Variables) == 0 {
		return nil
	}
	var used []string
	for _, k := range reservedEnv {
		if _, ok := in.Environment.Variables[k]; ok {
			used = append(used, k)
		}
	}
	if len(used) > 0 {
		return errInvalidParameter("Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: " + strings.Join(used, ", "))
	}
	// AWS measures the variables as compact JSON.
	measured, _ := json.Marshal(in.Environment.Variables)
	if len(measured) > 4096 {
		return errInvalidParameter("Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: " + string(measured))
	}
	return nil
}

func rangeCheck(v *violations, n int64, member string, lo, hi int64) {
	if n < lo {
		v.add(n, member, "Member must have value greater than or equal to "+strconv.FormatInt(lo, 10))
	} else if n > hi {
		v.add(n, member, "Member must have value less than or equal to "+strconv.FormatInt(hi, 10))
	}
}

func (s *Service) createFunction(w http.ResponseWriter, r *http.Request) {
	var in createFunctionInput
	if err := decodeBody(r, &in); err != nil {
		fail(w, err)
		return
	}
	ref, err := s.validateCreate(&in)
	if err != nil {
		fail(w, err)
		return
	}
	s.mu.Lock()
	_, exists := s.functions[ref.name]
	s.mu.Unlock()
	if exists {
		fail(w, errConflict("Function already exist: "+ref.name))
		return
	}
	pullRef, digest, err := s.images.Resolve(r.Context(), in.Code.ImageUri)
	if err != nil {
		slog.Info("lambda: image not resolvable", "function", ref.name, "image", in.Code.ImageUri, "err", err)
		fail(w, errInvalidParameter("Source image "+in.Code.ImageUri+" is not valid. Provide a valid source image."))
		return
	}

	fn := s.newFunction(ref.name, &in, pullRef, digest)
	s.mu.Lock()
	if _, exists := s.functions[ref.name]; exists {
		s.mu.Unlock()
		fail(w, errConflict("Function already exist: "+ref.name))
		return
	}
	s.functions[ref.name] = fn
	conf := fn.conf
	s.mu.Unlock()

	if err := s.logs.EnsureLogGroup(conf.LoggingConfig.LogGroup); err != nil {
		slog.Warn("lambda: create log group", "group", conf.LoggingConfig.LogGroup, "err", err)
	}
	s.save()
	s.startDispatcher(fn)
	// Lambda provisions asynchronously: Pending now, Active (or Failed) later.
	go s.activate(fn)
	slog.Info("lambda: function created", "function", ref.name, "image", pullRef)
	awsapi.WriteJSON(w, http.StatusCreated, conf)
}

func (s *Service) newFunction(name string, in *createFunctionInput, pullRef, digest string) *function {
	conf := functionConfiguration{
		Architectures:    []string{"x86_64"},
		CodeSha256:       strings.TrimPrefix(digest, "sha256:"),
		FunctionArn:      s.functionARN(name),
		FunctionName:     name,
		LastModified:     time.Now().UTC().Format(lastModifiedLayout),
		MemorySize:       128,
		EphemeralStorage: ephemeralStorage{Size: 512},
		PackageType:      "Image",
		RevisionId:       awsapi.RequestID(),
		Role:             in.Role,
		SnapStart:        snapStart{ApplyOn: "None", OptimizationStatus: "Off"},
		State:            "Pending",
		StateReason:      "The function is being created.",
		StateReasonCode:  "Creating",
		Timeout:          3,
		TracingConfig:    tracingConfig{Mode: "PassThrough"},
		Version:          "$LATEST",
		LoggingConfig:    loggingConfig{LogFormat: "Text", LogGroup: "/aws/lambda/" + name},
	}
	if len(in.Architectures) == 1 {
		conf.Architectures = in.Architectures
	}
	in.configInput.apply(&conf)

	tags := map[string]string{}
	for k, v := range in.Tags {
		tags[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &function{
		conf:        conf,
		imageURI:    in.Code.ImageUri,
		resolvedURI: resolvedImageURI(in.Code.ImageUri, digest),
		pullRef:     pullRef,
		tags:        tags,
		ctx:         ctx,
		cancel:      cancel,
		envs:        map[*environment]bool{},
		kick:        make(chan struct{}, 1),
	}
}

// apply sets the members given in the request on conf; members left out
// keep their values, as in UpdateFunctionConfiguration.
func (in *configInput) apply(conf *functionConfiguration) {
	if in.Role != "" {
		conf.Role = in.Role
	}
	if in.Description != nil {
		conf.Description = *in.Description
	}
	if in.MemorySize != nil {
		conf.MemorySize = *in.MemorySize
	}
	if in.Timeout != nil {
		conf.Timeout = *in.Timeout
	}
	if in.EphemeralStorage != nil {
		conf.EphemeralStorage = *in.EphemeralStorage
	}
	if in.Environment != nil {
		conf.Environment = nil
		if len(in.Environment.Variables) > 0 {
			conf.Environment = &environmentVars{Variables: copyMap(in.Environment.Variables)}
		}
	}
	if ic := in.ImageConfig; ic != nil {
		conf.ImageConfigResponse = nil
		if ic.EntryPoint != nil || ic.Command != nil || ic.WorkingDirectory != "" {
			c := *ic
			conf.ImageConfigResponse = &imageConfigResponse{ImageConfig: &c}
		}
	}
	if lc := in.LoggingConfig; lc != nil {
		if lc.LogFormat != "" {
			conf.LoggingConfig.LogFormat = lc.LogFormat
		}
		if lc.LogGroup != "" {
			conf.LoggingConfig.LogGroup = lc.LogGroup
		}
		conf.LoggingConfig.ApplicationLogLevel, conf.LoggingConfig.SystemLogLevel = "", ""
		if conf.LoggingConfig.LogFormat == "JSON" {
			conf.LoggingConfig.ApplicationLogLevel = orDefault(lc.ApplicationLogLevel, "INFO")
			conf.LoggingConfig.SystemLogLevel = orDefault(lc.SystemLogLevel, "INFO")
		}
	}
	if in.TracingConfig != nil && in.TracingConfig.Mode != "" {
		conf.TracingConfig = *in.TracingConfig
	}
	if vc := in.VpcConfig; vc != nil {
		conf.VpcConfig = nil
		if len(vc.SubnetIds) > 0 {
			out := *vc
			out.VpcId = "vpc-" + strings.ReplaceAll(awsapi.RequestID(), "-", "")[:17]
			conf.VpcConfig = &out
		}
	}
	if in.DeadLetterConfig != nil {
		conf.DeadLetterConfig = in.DeadLetterConfig
	}
	if in.KMSKeyArn != nil {
		conf.KMSKeyArn = *in.KMSKeyArn
	}
	if in.FileSystemConfigs != nil {
		conf.FileSystemConfigs = nil
		for _, c := range in.FileSystemConfigs {
			conf.FileSystemConfigs = append(conf.FileSystemConfigs, fileSystemConfig{Arn: *c.Arn, LocalMountPath: *c.LocalMountPath})
		}
	}
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// resolvedImageURI is the image URI pinned to its digest: the repository
// without tag or digest, then "@sha256:…".
func resolvedImageURI(uri, digest string) string {
	repo := uri
	if i := strings.Index(repo, "@"); i >= 0 {
		repo = repo[:i]
	} else if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	return repo + "@" + digest
}

// lookup finds the function a FunctionName names. Only $LATEST exists:
// versions and aliases are not simulated.
func (s *Service) lookup(raw string) (*function, functionRef, error) {
	ref, err := s.parseFunctionName(raw)
	if err != nil {
		return nil, ref, err
	}
	s.mu.Lock()
	fn := s.functions[ref.name]
	s.mu.Unlock()
	if fn == nil || (ref.qualifier != "" && ref.qualifier != "$LATEST") {
		return nil, ref, errFunctionNotFound(s.refARN(ref))
	}
	return fn, ref, nil
}

// lookupQualified is lookup for operations that take a Qualifier parameter.
func (s *Service) lookupQualified(r *http.Request) (*function, functionRef, error) {
	name := r.PathValue("name")
	if q := r.URL.Query().Get("Qualifier"); q != "" {
		ref, err := s.parseFunctionName(name)
		if err != nil {
			return nil, ref, err
		}
		if ref.qualifier != "" && ref.qualifier != q {
			return nil, ref, errInvalidParameter("The derived qualifier from the function name does not match the specified qualifier.")
		}
		name = s.functionARN(ref.name) + ":" + q
	}
	return s.lookup(name)
}

type getFunctionOutput struct {
	Configuration functionConfiguration
	Code          struct {
		ImageUri         string
		RepositoryType   string
		ResolvedImageUri string
	}
	Tags map[string]string `json:",omitempty"`
}

func (s *Service) getFunction(w http.ResponseWriter, r *http.Request) {
	fn, _, err := s.lookupQualified(r)
	if err != nil {
		fail(w, err)
		return
	}
	var out getFunctionOutput
	s.mu.Lock()
	out.Configuration = fn.conf
	out.Code.ImageUri, out.Code.RepositoryType, out.Code.ResolvedImageUri = fn.imageURI, "ECR", fn.resolvedURI
	if len(fn.tags) > 0 {
		out.Tags = copyMap(fn.tags)
	}
	s.mu.Unlock()
	awsapi.WriteJSON(w, http.StatusOK, out)
}

func (s *Service) getFunctionConfiguration(w http.ResponseWriter, r *http.Request) {
	fn, _, err := s.lookupQualified(r)
	if err != nil {
		fail(w, err)
		return
	}
	s.mu.Lock()
	conf := fn.conf
	s.mu.Unlock()
	awsapi.WriteJSON(w, http.StatusOK, conf)
}

func (s *Service) deleteFunction(w http.ResponseWriter, r *http.Request) {
	fn, ref, err := s.lookupQualified(r)
	if err != nil {
		fail(w, err)
		return
	}
	if ref.qualifier != "" || r.URL.Query().Get("Qualifier") != "" {
		// Deleting $LATEST alone is refused by AWS; the whole function is deleted unqualified.
		fail(w, errInvalidParameter("$LATEST version cannot be deleted without deleting the function."))
		return
	}
	s.mu.Lock()
	if s.functions[ref.name] != fn {
		s.mu.Unlock()
		fail(w, errFunctionNotFound(s.refARN(ref)))
		return
	}
	delete(s.functions, ref.name)
	fn.cancel()
	envs := make([]*environment, 0, len(fn.envs))
	for e := range fn.envs {
		envs = append(envs, e)
	}
	fn.envs, fn.idle, fn.queue = map[*environment]bool{}, nil, nil
	s.wakeQueuesLocked() // a reservation may have gone with it
	s.mu.Unlock()
	s.save()

	// Remove the containers before answering, so that a caller that checks
	// the engine right after sees none.
	destroyAll(r.Context(), envs, "function deleted")
	slog.Info("lambda: function deleted", "function", ref.name, "environments", len(envs))
	w.Header().Set("x-amzn-RequestId", awsapi.RequestID())
	w.WriteHeader(http.StatusNoContent)
}

type listFunctionsOutput struct {
	Functions  []functionConfiguration
	NextMarker string `json:",omitempty"`
}

func (s *Service) listFunctions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	maxItems := 50
	if v := q.Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			var vs violations
			if err == nil && n < 1 {
				vs.add(v, "maxItems", "Member must have value greater than or equal to 1")
			} else {
				vs.add(v, "maxItems", "Member must have value less than or equal to 10000")
			}
			fail(w, vs.err())
			return
		}
		maxItems = n
	}
	after := ""
	if m := q.Get("Marker"); m != "" {
		b, err := base64.RawURLEncoding.DecodeString(m)
		if err != nil {
			fail(w, errInvalidParameter("Invalid marker: "+m))
			return
		}
		after = string(b)
	}
	s.mu.Lock()
	names := make([]string, 0, len(s.functions))
	for n := range s.functions {
		if n > after {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := listFunctionsOutput{Functions: []functionConfiguration{}}
	for i, n := range names {
		if i == maxItems {
			out.NextMarker = base64.RawURLEncoding.EncodeToString([]byte(names[i-1]))
			break
		}
		out.Functions = append(out.Functions, s.functions[n].conf)
	}
	s.mu.Unlock()
	awsapi.WriteJSON(w, http.StatusOK, out)
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Tags: addressed by the function's ARN.

func (s *Service) tagTarget(r *http.Request) (*function, error) {
	arn := r.PathValue("arn")
	if !strings.HasPrefix(arn, "arn:") {
		var v violations
		v.add(arn, "resource", `Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})`)
		return nil, v.err()
	}
	fn, _, err := s.lookup(arn)
	return fn, err
}

func (s *Service) tagResource(w http.ResponseWriter, r *http.Request) {
	var in struct{ Tags map[string]string }
	if err := decodeBody(r, &in); err != nil {
		fail(w, err)
		return
	}
	fn, err := s.tagTarget(r)
	if err != nil {
		fail(w, err)
		return
	}
	s.mu.Lock()
	for k, v := range in.Tags {
		fn.tags[k] = v
	}
	s.mu.Unlock()
	s.save()
	w.Header().Set("x-amzn-RequestId", awsapi.RequestID())
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) untagResource(w http.ResponseWriter, r *http.Request) {
	fn, err := s.tagTarget(r)
	if err != nil {
		fail(w, err)
		return
	}
	s.mu.Lock()
	for _, k := range r.URL.Query()["tagKeys"] {
		delete(fn.tags, k)
	}
	s.mu.Unlock()
	s.save()
	w.Header().Set("x-amzn-RequestId", awsapi.RequestID())
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) listTags(w http.ResponseWriter, r *http.Request) {
	fn, err := s.tagTarget(r)
	if err != nil {
		fail(w, err)
		return
	}
	s.mu.Lock()
	tags := copyMap(fn.tags)
	s.mu.Unlock()
	awsapi.WriteJSON(w, http.StatusOK, map[string]any{"Tags": tags})
}

// Event invoke config: retries and event age of asynchronous invocations.

type destination struct {
	Destination string `json:",omitempty"`
}

type destinationConfig struct {
	OnSuccess destination
	OnFailure destination
}

type eventInvokeConfig struct {
	FunctionArn              string
	LastModified             float64 // epoch seconds, as rest-json timestamps are
	MaximumRetryAttempts     *int32  `json:",omitempty"`
	MaximumEventAgeInSeconds *int32  `json:",omitempty"`
	DestinationConfig        destinationConfig
}

type eventInvokeConfigInput struct {
	MaximumRetryAttempts     *int32
	MaximumEventAgeInSeconds *int32
	DestinationConfig        *destinationConfig
}

func (in *eventInvokeConfigInput) validate() error {
	var v violations
	if in.MaximumRetryAttempts != nil {
		rangeCheck(&v, int64(*in.MaximumRetryAttempts), "maximumRetryAttempts", 0, 2)
	}
	if in.MaximumEventAgeInSeconds != nil {
		rangeCheck(&v, int64(*in.MaximumEventAgeInSeconds), "maximumEventAgeInSeconds", 60, 21600)
	}
	if err := v.err(); err != nil {
		return err
	}
	return nil
}

func (s *Service) putEventInvokeConfig(w http.ResponseWriter, r *http.Request) {
	s.writeEventInvokeConfig(w, r, false)
}

func (s *Service) updateEventInvokeConfig(w http.ResponseWriter, r *http.Request) {
	s.writeEventInvokeConfig(w, r, true)
}

// writeEventInvokeConfig is Put (replace) or Update (merge) of the config.
func (s *Service) writeEventInvokeConfig(w http.ResponseWriter, r *http.Request, merge bool) {
	var in eventInvokeConfigInput
	if err := decodeBody(r, &in); err != nil {
		fail(w, err)
		return
	}
	if err := in.validate(); err != nil {
		fail(w, err)
		return
	}
	fn, _, err := s.lookupQualified(r)
	if err != nil {
		fail(w, err)
		return
	}
	s.mu.Lock()
	cfg := &eventInvokeConfig{}
	if merge && fn.invokeCfg != nil {
		c := *fn.invokeCfg
		cfg = &c
	}
	cfg.FunctionArn = fn.conf.FunctionArn + ":$LATEST"
	cfg.LastModified = float64(time.Now().UnixMilli()) / 1000
	if !merge || in.MaximumRetryAttempts != nil {
		cfg.MaximumRetryAttempts = in.MaximumRetryAttempts
	}
	if !merge || in.MaximumEventAgeInSeconds != nil {
		cfg.MaximumEventAgeInSeconds = in.MaximumEventAgeInSeconds
	}
	if in.DestinationConfig != nil {
		cfg.DestinationConfig = *in.DestinationConfig
	} else if !merge {
		cfg.DestinationConfig = destinationConfig{}
	}
	fn.invokeCfg = cfg
	out := *cfg
	s.mu.Unlock()
	s.save()
	awsapi.WriteJSON(w, http.StatusOK, out)
}

func (s *Service) getEventInvokeConfig(w http.ResponseWriter, r *http.Request) {
	fn, _, err := s.lookupQualified(r)
	if err != nil {
		fail(w, err)
		return
	}
	s.mu.Lock()
	cfg := fn.invokeCfg
	var out eventInvokeConfig
	if cfg != nil {
		out = *cfg
	}
	arn := fn.conf.FunctionArn
	s.mu.Unlock()
	if cfg == nil {
		fail(w, errNotFound(fmt.Sprintf("The function %s doesn't have an EventInvokeConfig", arn)))
		return
	}
	awsapi.WriteJSON(w, http.StatusOK, out)
}

func (s *Service) deleteEventInvokeConfig(w http.ResponseWriter, r *http.Request) {
	fn, _, err := s.lookupQualified(r)
	if err != nil {
		fail(w, err)
		return
	}
	s.mu.Lock()
	cfg := fn.invokeCfg
	fn.invokeCfg = nil
	arn := fn.conf.FunctionArn
	s.mu.Unlock()
	if cfg == nil {
		fail(w, errNotFound(fmt.Sprintf("The function %s doesn't have an EventInvokeConfig", arn)))
		return
	}
	s.save()
	w.Header().Set("x-amzn-RequestId", awsapi.RequestID())
	w.WriteHeader(http.StatusNoContent)
}
