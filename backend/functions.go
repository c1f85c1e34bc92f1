package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/sockerless-lambda/sockerless/agent/protocol"
)

// Tags on every function the backend creates: they carry the container's
// identity so that AWS stays the source of truth.
const (
	tagManaged     = "sockerless:managed"
	tagContainerID = "sockerless:container-id"
	tagName        = "sockerless:name"
)

// functionName is the Lambda function of a container: stable for its life
// (a rename does not touch it) and well under Lambda's 64 characters.
func functionName(containerID string) string { return "sockerless-" + containerID[:24] }

// createFunction creates the container's function from the derived image and
// waits until it is Active, as AWS requires before an invoke.
func (b *Backend) createFunction(ctx context.Context, c *Container, imageURI string, name string) error {
	memory := b.cfg.MemorySize
	if m := c.HostConfig.Memory; m > 0 {
		mb := int32((m + (1<<20 - 1)) >> 20)
		memory = max(mb, 128)
	}
	in := &lambda.CreateFunctionInput{
		FunctionName:  aws.String(c.FunctionName),
		Role:          aws.String(b.cfg.RoleARN),
		PackageType:   lambdatypes.PackageTypeImage,
		Code:          &lambdatypes.FunctionCode{ImageUri: aws.String(imageURI)},
		MemorySize:    aws.Int32(memory),
		Timeout:       aws.Int32(b.cfg.Timeout),
		Architectures: []lambdatypes.Architecture{lambdatypes.Architecture(b.cfg.Architecture)},
		Description:   aws.String("sockerless container " + name),
		LoggingConfig: &lambdatypes.LoggingConfig{
			LogFormat: lambdatypes.LogFormatText,
			LogGroup:  aws.String(b.cfg.LogGroup),
		},
		Tags: map[string]string{
			tagManaged:     "true",
			tagContainerID: c.ID,
			tagName:        name,
		},
	}
	if usesEFS(c.Mounts) {
		in.FileSystemConfigs = []lambdatypes.FileSystemConfig{{Arn: aws.String(b.cfg.EFSAccessPoint), LocalMountPath: aws.String(efsMountPath)}}
	}
	if len(b.cfg.Subnets) > 0 {
		in.VpcConfig = &lambdatypes.VpcConfig{SubnetIds: b.cfg.Subnets, SecurityGroupIds: b.cfg.SecurityGroups}
	}
	out, err := b.createFunctionRetrying(ctx, in)
	if err != nil {
		return fmt.Errorf("Lambda CreateFunction: %w", err)
	}
	c.FunctionARN = aws.ToString(out.FunctionArn)
	waiter := lambda.NewFunctionActiveV2Waiter(b.aws.Lambda, func(o *lambda.FunctionActiveV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 2*time.Second
	})
	if err := waiter.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(c.FunctionName)}, 5*time.Minute); err != nil {
		b.deleteFunction(context.WithoutCancel(ctx), c)
		return fmt.Errorf("Lambda function %s did not become Active: %w", c.FunctionName, err)
	}
	// A container runs once per start: Lambda must not retry a failed run.
	if _, err := b.aws.Lambda.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName:         aws.String(c.FunctionName),
		MaximumRetryAttempts: aws.Int32(0),
	}); err != nil {
		b.deleteFunction(context.WithoutCancel(ctx), c)
		return fmt.Errorf("Lambda PutFunctionEventInvokeConfig: %w", err)
	}
	return nil
}

// settleTime bounds how long CreateFunction is retried while AWS catches up
// with itself.
const settleTime = 30 * time.Second

// createFunctionRetrying calls CreateFunction, retrying for a while the
// refusals that only mean AWS has not caught up yet: an image just pushed that
// Lambda cannot see in ECR yet, or a role just made that IAM has not spread
// ("cannot be assumed"). Anything else, and these after settleTime, fail.
func (b *Backend) createFunctionRetrying(ctx context.Context, in *lambda.CreateFunctionInput) (*lambda.CreateFunctionOutput, error) {
	deadline := time.Now().Add(settleTime)
	delay := 250 * time.Millisecond
	for {
		out, err := b.aws.Lambda.CreateFunction(ctx, in)
		var ipv *lambdatypes.InvalidParameterValueException
		if err == nil || !errors.As(err, &ipv) || !settling(aws.ToString(ipv.Message)) || time.Now().After(deadline) {
			return out, err
		}
		slog.Info("Lambda CreateFunction refused while AWS settles; retrying", "function", aws.ToString(in.FunctionName), "reason", aws.ToString(ipv.Message))
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(delay):
		}
		delay = min(delay*2, 4*time.Second)
	}
}

func settling(msg string) bool {
	return strings.Contains(msg, "cannot be assumed") || (strings.Contains(msg, "image") && strings.Contains(msg, "does not exist"))
}

// invoke starts a run of the container: an asynchronous invocation whose
// payload carries the process and the run's token.
// It returns the invocation's request ID, which names the run in CloudWatch.
func (b *Backend) invoke(ctx context.Context, c *Container, inv protocol.Invocation) (string, error) {
	payload, err := json.Marshal(inv)
	if err != nil {
		return "", err
	}
	out, err := b.aws.Lambda.Invoke(ctx, &lambda.InvokeInput{
		FunctionName:   aws.String(c.FunctionName),
		InvocationType: lambdatypes.InvocationTypeEvent,
		Payload:        payload,
	})
	if err != nil {
		return "", fmt.Errorf("Lambda Invoke: %w", err)
	}
	id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	return id, nil
}

// ensureLogGroups creates the functions' log group and the journals' unless
// they exist.
func (b *Backend) ensureLogGroups(ctx context.Context) error {
	for _, group := range []string{b.cfg.LogGroup, b.cfg.JournalLogGroup} {
		_, err := b.aws.Logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)})
		var exists *cwtypes.ResourceAlreadyExistsException
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("CloudWatch CreateLogGroup %s: %w", group, err)
		}
	}
	return nil
}

// deleteFunction removes the container's function; a function already gone
// is not an error.
func (b *Backend) deleteFunction(ctx context.Context, c *Container) error {
	_, err := b.aws.Lambda.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(c.FunctionName)})
	var nf *lambdatypes.ResourceNotFoundException
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("Lambda DeleteFunction %s: %w", c.FunctionName, err)
	}
	return nil
}
