package e2e

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
)

// createAccessPoint makes, on the simulator, the EFS file system and the
// access point that hold the backend's named volumes, as the Terraform
// example does on AWS.
func createAccessPoint(endpoint, region string) (string, error) {
	ctx := context.Background()
	cli := efs.New(efs.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "test", SecretAccessKey: "test"}, nil
		}),
	})
	fs, err := cli.CreateFileSystem(ctx, &efs.CreateFileSystemInput{CreationToken: aws.String("sockerless-e2e")})
	if err != nil {
		return "", fmt.Errorf("EFS CreateFileSystem on the simulator: %w", err)
	}
	ap, err := cli.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{
		FileSystemId: fs.FileSystemId,
		ClientToken:  aws.String("sockerless-e2e-volumes"),
		RootDirectory: &efstypes.RootDirectory{
			Path:         aws.String("/sockerless-volumes"),
			CreationInfo: &efstypes.CreationInfo{OwnerUid: aws.Int64(993), OwnerGid: aws.Int64(990), Permissions: aws.String("0755")},
		},
	})
	if err != nil {
		return "", fmt.Errorf("EFS CreateAccessPoint on the simulator: %w", err)
	}
	return aws.ToString(ap.AccessPointArn), nil
}
