package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// validateAWS checks the configuration against AWS at start, so that a wrong
// role, subnet, security group or access point is a clear error now rather
// than a failed `docker run` later. The credentials and the access point are
// checked everywhere; the role (IAM) and the VPC (EC2) only on AWS itself,
// since the simulator serves neither.
func (b *Backend) validateAWS(ctx context.Context) error {
	id, err := b.aws.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("AWS credentials: %w (the backend uses the standard chain: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, SSO, or an instance or task role)", err)
	}
	account := aws.ToString(id.Account)
	slog.Info("AWS identity", "account", account, "arn", aws.ToString(id.Arn), "region", b.cfg.Region)
	if role, err := arn.Parse(b.cfg.RoleARN); err == nil && role.AccountID != account {
		return fmt.Errorf("SOCKERLESS_LAMBDA_ROLE_ARN: %s is in account %s, but these credentials are of account %s: Lambda runs functions with a role of their own account", b.cfg.RoleARN, role.AccountID, account)
	}
	if b.cfg.EndpointURL == "" {
		if err := b.validateRole(ctx); err != nil {
			return err
		}
		if err := b.validateVPC(ctx); err != nil {
			return err
		}
	}
	return b.validateAccessPoint(ctx)
}

// validateRole checks that the role exists and that Lambda may assume it.
func (b *Backend) validateRole(ctx context.Context) error {
	name := b.cfg.RoleARN[strings.LastIndex(b.cfg.RoleARN, "/")+1:]
	out, err := b.aws.IAM.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	var nse *iamtypes.NoSuchEntityException
	switch {
	case errors.As(err, &nse):
		return fmt.Errorf("SOCKERLESS_LAMBDA_ROLE_ARN: role %s does not exist", b.cfg.RoleARN)
	case accessDenied(err):
		slog.Warn("SOCKERLESS_LAMBDA_ROLE_ARN not checked: these credentials may not call iam:GetRole", "role", b.cfg.RoleARN)
		return nil
	case err != nil:
		return fmt.Errorf("SOCKERLESS_LAMBDA_ROLE_ARN: IAM GetRole: %w", err)
	}
	trust, err := url.QueryUnescape(aws.ToString(out.Role.AssumeRolePolicyDocument))
	if err != nil || !strings.Contains(trust, "lambda.amazonaws.com") {
		return fmt.Errorf("SOCKERLESS_LAMBDA_ROLE_ARN: role %s does not trust lambda.amazonaws.com: its trust policy must allow Lambda to assume it", b.cfg.RoleARN)
	}
	return nil
}

// validateVPC checks that the subnets and security groups exist and are in
// one VPC, as Lambda requires.
func (b *Backend) validateVPC(ctx context.Context) error {
	if len(b.cfg.Subnets) == 0 {
		return nil
	}
	subnets, err := b.aws.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: b.cfg.Subnets})
	if accessDenied(err) {
		slog.Warn("SOCKERLESS_LAMBDA_SUBNETS not checked: these credentials may not call ec2:DescribeSubnets")
		return nil
	}
	if err != nil {
		return fmt.Errorf("SOCKERLESS_LAMBDA_SUBNETS: %s", awsMessage(err))
	}
	vpcs := map[string]bool{}
	var vpc string
	for _, s := range subnets.Subnets {
		vpc = aws.ToString(s.VpcId)
		vpcs[vpc] = true
	}
	if len(vpcs) != 1 {
		return fmt.Errorf("SOCKERLESS_LAMBDA_SUBNETS: the subnets are in %d VPCs; Lambda needs them in one", len(vpcs))
	}
	if len(b.cfg.SecurityGroups) == 0 {
		return nil
	}
	groups, err := b.aws.EC2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: b.cfg.SecurityGroups})
	if accessDenied(err) {
		slog.Warn("SOCKERLESS_LAMBDA_SECURITY_GROUPS not checked: these credentials may not call ec2:DescribeSecurityGroups")
		return nil
	}
	if err != nil {
		return fmt.Errorf("SOCKERLESS_LAMBDA_SECURITY_GROUPS: %s", awsMessage(err))
	}
	for _, g := range groups.SecurityGroups {
		if aws.ToString(g.VpcId) != vpc {
			return fmt.Errorf("SOCKERLESS_LAMBDA_SECURITY_GROUPS: %s is in %s, the subnets in %s: Lambda needs them in one VPC", aws.ToString(g.GroupId), aws.ToString(g.VpcId), vpc)
		}
	}
	return nil
}

// validateAccessPoint checks that the volumes' access point exists and is
// available.
func (b *Backend) validateAccessPoint(ctx context.Context) error {
	if b.cfg.EFSAccessPoint == "" {
		return nil
	}
	id := b.cfg.EFSAccessPoint[strings.LastIndex(b.cfg.EFSAccessPoint, "/")+1:]
	out, err := b.aws.EFS.DescribeAccessPoints(ctx, &efs.DescribeAccessPointsInput{AccessPointId: aws.String(id)})
	var nf *efstypes.AccessPointNotFound
	switch {
	case errors.As(err, &nf):
		return fmt.Errorf("SOCKERLESS_EFS_ACCESS_POINT_ARN: access point %s does not exist", b.cfg.EFSAccessPoint)
	case accessDenied(err):
		slog.Warn("SOCKERLESS_EFS_ACCESS_POINT_ARN not checked: these credentials may not call elasticfilesystem:DescribeAccessPoints")
		return nil
	case err != nil:
		return fmt.Errorf("SOCKERLESS_EFS_ACCESS_POINT_ARN: EFS DescribeAccessPoints: %w", err)
	}
	for _, ap := range out.AccessPoints {
		if ap.LifeCycleState != efstypes.LifeCycleStateAvailable {
			return fmt.Errorf("SOCKERLESS_EFS_ACCESS_POINT_ARN: access point %s is %s, not available", id, ap.LifeCycleState)
		}
	}
	return nil
}

func accessDenied(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "AccessDenied" || ae.ErrorCode() == "AccessDeniedException" || ae.ErrorCode() == "UnauthorizedOperation")
}

// awsMessage is an AWS error's own message, which names the bad ID
// ("The subnet ID 'subnet-1' does not exist").
func awsMessage(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorMessage()
	}
	return err.Error()
}
