package backend

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// AWS holds the SDK clients. The only difference between the simulator and
// real AWS is the endpoint (and the credentials the standard chain finds).
type AWS struct {
	Lambda *lambda.Client
	Logs   *cloudwatchlogs.Client
	ECR    *ecr.Client
	STS    *sts.Client
	EFS    *efs.Client // the volumes' access point, checked at start
	IAM    *iam.Client // the role, checked at start on AWS
	EC2    *ec2.Client // the subnets and security groups, checked at start on AWS
}

// NewAWS builds the clients from the standard credential chain (environment,
// profile, SSO, instance role). Throttling is retried with backoff by the SDK's
// standard retryer, given more attempts than its default.
func NewAWS(ctx context.Context, cfg Config) (*AWS, error) {
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(cfg.Region),
		awsconfig.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = 8 })
		}),
	}
	if cfg.EndpointURL != "" {
		opts = append(opts, awsconfig.WithBaseEndpoint(cfg.EndpointURL))
		if os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
			// The simulator accepts any credentials; do not make a user
			// without an AWS account configure some, nor wait for the
			// credential chain to probe instance metadata.
			opts = append(opts, awsconfig.WithCredentialsProvider(aws.CredentialsProviderFunc(
				func(context.Context) (aws.Credentials, error) {
					return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test", Source: "sockerless-simulator"}, nil
				})))
		}
	}
	ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	return &AWS{
		Lambda: lambda.NewFromConfig(ac),
		Logs:   cloudwatchlogs.NewFromConfig(ac),
		ECR:    ecr.NewFromConfig(ac),
		STS:    sts.NewFromConfig(ac),
		EFS:    efs.NewFromConfig(ac),
		IAM:    iam.NewFromConfig(ac),
		EC2:    ec2.NewFromConfig(ac),
	}, nil
}
