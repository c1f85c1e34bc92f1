package lambda

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/sockerless-lambda/sockerless/simulator/awsapi"
)

// Provisioning and updates. A new function is Pending, then Active or
// Failed; an update is InProgress, then Successful or Failed. While either
// runs, the function refuses other changes, and invokes keep using the
// configuration and code that were live before (function.live).

// provisionTimeout bounds the image check and pre-pull of one provisioning.
const provisionTimeout = 5 * time.Minute

// provision checks that the function's image can still be used, and pulls it
// onto the engine so that the first cold start does not wait for it, as
// Lambda optimises an image before a function becomes Active. It returns
// AWS's reason code and text when the image is unusable.
func (s *Service) provision(fn *function, resolvedURI, pullRef string) (code, reason string) {
	// Lambda takes a while to provision: PendingDelay stands for it.
	select {
	case <-time.After(s.cfg.PendingDelay):
	case <-fn.ctx.Done():
		return "", ""
	}
	ctx, cancel := context.WithTimeout(fn.ctx, provisionTimeout)
	defer cancel()
	if _, _, err := s.images.Resolve(ctx, resolvedURI); err != nil {
		slog.Info("lambda: image no longer available", "image", resolvedURI, "err", err)
		return "ImageDeleted", "Lambda was unable to access the image " + resolvedURI + ". The image was deleted from the repository."
	}
	// An engine that is down must not fail the function: invokes report it.
	if err := s.docker.ensureImage(ctx, pullRef, s.images.EngineAuth()); err != nil {
		slog.Warn("lambda: pre-pull of function image", "image", pullRef, "err", err)
	}
	return "", ""
}

// activate ends a create's provisioning: Active, LastUpdateStatus Successful
// and a new RevisionId, as AWS shows once a create has finished; or Failed.
func (s *Service) activate(fn *function) {
	s.mu.Lock()
	resolved, pullRef := fn.resolvedURI, fn.pullRef
	s.mu.Unlock()
	code, reason := s.provision(fn, resolved, pullRef)

	s.mu.Lock()
	if fn.ctx.Err() != nil {
		s.mu.Unlock()
		return
	}
	if code != "" {
		fn.conf.State, fn.conf.StateReason, fn.conf.StateReasonCode = "Failed", reason, code
		fn.conf.LastUpdateStatus, fn.conf.LastUpdateStatusReason, fn.conf.LastUpdateStatusReasonCode = "Failed", reason, code
	} else {
		fn.conf.State, fn.conf.StateReason, fn.conf.StateReasonCode = "Active", "", ""
		fn.conf.LastUpdateStatus = "Successful"
		fn.live, fn.livePullRef = fn.conf, fn.pullRef
	}
	fn.conf.RevisionId = awsapi.RequestID()
	s.mu.Unlock()
	s.save()
}

// beginUpdate applies change to the function's shown configuration and
// starts the update, or refuses it as AWS does: while Pending or while
// another update runs (409), or when revisionID is stale (412).
func (s *Service) beginUpdate(fn *function, revisionID string, change func(*function)) (functionConfiguration, error) {
	s.mu.Lock()
	c := &fn.conf
	switch {
	case c.State == "Pending":
		s.mu.Unlock()
		return functionConfiguration{}, errConflict("The operation cannot be performed at this time. The function is currently in the following state: Pending")
	case c.LastUpdateStatus == "InProgress":
		s.mu.Unlock()
		return functionConfiguration{}, errConflict("The operation cannot be performed at this time. An update is in progress for resource: " + c.FunctionArn)
	case revisionID != "" && revisionID != c.RevisionId:
		s.mu.Unlock()
		return functionConfiguration{}, errPreconditionFailed("The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
	}
	change(fn)
	c.LastUpdateStatus, c.LastUpdateStatusReason, c.LastUpdateStatusReasonCode = "InProgress", "The function is being created.", "Creating"
	c.LastModified = time.Now().UTC().Format(lastModifiedLayout)
	c.RevisionId = awsapi.RequestID()
	out := *c
	s.mu.Unlock()
	s.save()
	go s.finishUpdate(fn)
	return out, nil
}

// finishUpdate ends an update: the new configuration and code go live and
// the environments of the old ones retire.
func (s *Service) finishUpdate(fn *function) {
	s.mu.Lock()
	resolved, pullRef := fn.resolvedURI, fn.pullRef
	s.mu.Unlock()
	code, reason := s.provision(fn, resolved, pullRef)

	s.mu.Lock()
	if fn.ctx.Err() != nil {
		s.mu.Unlock()
		return
	}
	c := &fn.conf
	if code != "" {
		c.LastUpdateStatus, c.LastUpdateStatusReason, c.LastUpdateStatusReasonCode = "Failed", reason, code
	} else {
		c.LastUpdateStatus, c.LastUpdateStatusReason, c.LastUpdateStatusReasonCode = "Successful", "", ""
		if c.State == "Failed" {
			// A successful update is how a Failed function recovers.
			c.State, c.StateReason, c.StateReasonCode = "Active", "", ""
		}
		fn.live, fn.livePullRef = *c, fn.pullRef
		fn.generation++
	}
	c.RevisionId = awsapi.RequestID()
	idle := fn.idle
	if code == "" {
		fn.idle = nil
		for _, e := range idle {
			if e.idleTimer != nil {
				e.idleTimer.Stop()
				e.idleTimer = nil
			}
		}
	} else {
		idle = nil
	}
	s.mu.Unlock()
	s.save()
	// Busy environments retire when their invocation ends (release).
	destroyAll(context.Background(), idle, "function updated")
}

type updateConfigurationInput struct {
	configInput
	RevisionId string
}

func (s *Service) updateFunctionConfiguration(w http.ResponseWriter, r *http.Request) {
	var in updateConfigurationInput
	if err := decodeBody(r, &in); err != nil {
		fail(w, err)
		return
	}
	fn, ref, err := s.lookup(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	var v violations
	in.configInput.check(&v)
	if err := v.err(); err != nil {
		fail(w, err)
		return
	}
	if ref.qualifier != "" {
		fail(w, errInvalidParameter("Unsupported function name: a qualifier is not allowed in UpdateFunctionConfiguration."))
		return
	}
	if err := in.configInput.checkImageRules(); err != nil {
		fail(w, err)
		return
	}
	if err := s.checkFileSystems(in.FileSystemConfigs); err != nil {
		fail(w, err)
		return
	}
	conf, err := s.beginUpdate(fn, in.RevisionId, func(fn *function) {
		group := fn.conf.LoggingConfig.LogGroup
		in.configInput.apply(&fn.conf)
		if g := fn.conf.LoggingConfig.LogGroup; g != group {
			if err := s.logs.EnsureLogGroup(g); err != nil {
				slog.Warn("lambda: create log group", "group", g, "err", err)
			}
		}
	})
	if err != nil {
		fail(w, err)
		return
	}
	slog.Info("lambda: function configuration update", "function", ref.name)
	awsapi.WriteJSON(w, http.StatusOK, conf)
}

type updateCodeInput struct {
	ZipFile         []byte
	S3Bucket        string
	S3Key           string
	S3ObjectVersion string
	ImageUri        string
	Publish         bool
	DryRun          bool
	RevisionId      string
	Architectures   []string
}

func (s *Service) updateFunctionCode(w http.ResponseWriter, r *http.Request) {
	var in updateCodeInput
	if err := decodeBody(r, &in); err != nil {
		fail(w, err)
		return
	}
	fn, ref, err := s.lookup(r.PathValue("name"))
	if err != nil {
		fail(w, err)
		return
	}
	var v violations
	checkArchitectures(&v, in.Architectures)
	if err := v.err(); err != nil {
		fail(w, err)
		return
	}
	switch {
	case ref.qualifier != "":
		err = errInvalidParameter("Unsupported function name: a qualifier is not allowed in UpdateFunctionCode.")
	case in.ImageUri == "":
		err = errInvalidParameter("Please provide ImageUri when updating a function with packageType Image.")
	case len(in.ZipFile) > 0 || in.S3Bucket != "" || in.S3Key != "":
		err = errInvalidParameter("Please don't provide ZipFile or S3 code when updating a function with packageType Image.")
	}
	if err != nil {
		fail(w, err)
		return
	}
	pullRef, digest, err := s.images.Resolve(r.Context(), in.ImageUri)
	if err != nil {
		slog.Info("lambda: image not resolvable", "function", ref.name, "image", in.ImageUri, "err", err)
		fail(w, errInvalidParameter("Source image "+in.ImageUri+" is not valid. Provide a valid source image."))
		return
	}
	change := func(fn *function) {
		fn.imageURI, fn.resolvedURI, fn.pullRef = in.ImageUri, resolvedImageURI(in.ImageUri, digest), pullRef
		fn.conf.CodeSha256 = strings.TrimPrefix(digest, "sha256:")
		if len(in.Architectures) == 1 {
			fn.conf.Architectures = in.Architectures
		}
	}
	if in.DryRun {
		// DryRun validates and answers with the configuration the update would give.
		s.mu.Lock()
		shadow := &function{conf: fn.conf}
		s.mu.Unlock()
		change(shadow)
		awsapi.WriteJSON(w, http.StatusOK, shadow.conf)
		return
	}
	conf, err := s.beginUpdate(fn, in.RevisionId, change)
	if err != nil {
		fail(w, err)
		return
	}
	slog.Info("lambda: function code update", "function", ref.name, "image", pullRef)
	awsapi.WriteJSON(w, http.StatusOK, conf)
}
