package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/gin-gonic/gin"
)

// handleContainerUpdate serves POST /containers/{id}/update: memory maps to
// the function's MemorySize (for the next run: Lambda does not resize a
// running environment); what Lambda cannot honour is a warning.
func (b *Backend) handleContainerUpdate(c *gin.Context) {
	ctr, err := b.store.Lookup(c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	var req container.UpdateConfig
	if err := json.NewDecoder(c.Request.Body).Decode(&req); err != nil {
		writeError(c, badRequest("invalid JSON: %s", err))
		return
	}
	var warnings []string
	r := req.Resources
	if r.CPUShares != 0 || r.NanoCPUs != 0 || r.CPUQuota != 0 || r.CPUPeriod != 0 || r.CpusetCpus != "" {
		warnings = append(warnings, "CPU settings are ignored: Lambda allots CPU in proportion to memory.")
	}
	if r.MemorySwap != 0 || r.MemoryReservation != 0 || r.KernelMemory != 0 {
		warnings = append(warnings, "Memory reservation and swap are ignored: Lambda has only a memory size.")
	}
	// Everything is checked before anything changes.
	if req.RestartPolicy.Name != "" {
		hc := container.HostConfig{RestartPolicy: req.RestartPolicy, AutoRemove: ctr.HostConfig.AutoRemove}
		if err := checkRestartPolicy(&hc); err != nil {
			writeError(c, err)
			return
		}
	}
	var mb int32
	if r.Memory != 0 {
		mb = int32((r.Memory + (1<<20 - 1)) >> 20)
		if mb < 128 || mb > 10240 {
			writeError(c, badRequest("memory %d MB is outside what Lambda allows: 128 to 10240 MB", mb))
			return
		}
		if err := b.setMemory(c.Request.Context(), ctr, mb); err != nil {
			writeError(c, err)
			return
		}
		if b.store.Snap(ctr).Status == stateRunning {
			warnings = append(warnings, "The new memory size applies from the next start: Lambda does not resize a running environment.")
		}
	}
	// A new HostConfig, never the one inspect may be reading.
	b.store.Update(ctr, func(c *Container) {
		hc := *c.HostConfig
		if mb != 0 {
			hc.Memory = int64(mb) << 20
		}
		if req.RestartPolicy.Name != "" {
			hc.RestartPolicy = req.RestartPolicy
		}
		c.HostConfig = &hc
	})
	if mb != 0 || req.RestartPolicy.Name != "" {
		e := journalEntry{Kind: entryUpdate, Memory: int64(mb) << 20}
		if req.RestartPolicy.Name != "" {
			policy := req.RestartPolicy
			e.RestartPolicy = &policy
		}
		b.journal.append(ctr, e)
	}
	b.containerEvent(ctr, events.ActionUpdate, nil)
	writeJSON(c, http.StatusOK, container.UpdateResponse{Warnings: nonNil(warnings)})
}

// setMemory changes the function's MemorySize and waits until the update is
// done, as Lambda requires before the next change or invoke.
func (b *Backend) setMemory(ctx context.Context, ctr *Container, mb int32) error {
	_, err := b.aws.Lambda.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(ctr.FunctionName), MemorySize: aws.Int32(mb),
	})
	if err != nil {
		return fmt.Errorf("Lambda UpdateFunctionConfiguration: %w", err)
	}
	w := lambda.NewFunctionUpdatedV2Waiter(b.aws.Lambda, func(o *lambda.FunctionUpdatedV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 2*time.Second
	})
	if err := w.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(ctr.FunctionName)}, 5*time.Minute); err != nil {
		return fmt.Errorf("Lambda function %s update did not finish: %w", ctr.FunctionName, err)
	}
	return nil
}
