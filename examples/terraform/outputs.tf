locals {
  # The backend's configuration for this account (README.md's configuration
  # table). SOCKERLESS_CALLBACK_URL and the TLS settings depend on where the
  # backend runs, so they are not here.
  backend_environment = {
    AWS_REGION                         = local.region
    SOCKERLESS_LAMBDA_ROLE_ARN         = aws_iam_role.execution.arn
    SOCKERLESS_LAMBDA_LOG_GROUP        = aws_cloudwatch_log_group.functions.name
    SOCKERLESS_JOURNAL_LOG_GROUP       = aws_cloudwatch_log_group.journal.name
    SOCKERLESS_ECR_REPOSITORY          = aws_ecr_repository.derived.name
    SOCKERLESS_ECR_PULL_THROUGH_PREFIX = aws_ecr_pull_through_cache_rule.docker_hub.ecr_repository_prefix
    SOCKERLESS_LAMBDA_SUBNETS          = join(",", var.subnet_ids)
    SOCKERLESS_LAMBDA_SECURITY_GROUPS  = join(",", local.function_security_group_ids)
    SOCKERLESS_EFS_ACCESS_POINT_ARN    = var.enable_efs ? aws_efs_access_point.volumes[0].arn : ""
  }
}

output "backend_environment" {
  description = "The backend's environment variables for this account; an empty value means the variable is left unset."
  value       = local.backend_environment

  # A backend started from these values creates functions at once: the
  # execution role's policy, the repository policy that lets Lambda pull
  # the images and, with EFS, the mount targets must exist by then.
  depends_on = [
    aws_iam_role_policy.execution,
    aws_ecr_repository_policy.derived,
    aws_efs_mount_target.volumes,
    aws_efs_file_system_policy.volumes,
  ]
}

output "backend_env" {
  description = "The same as shell lines, empty values left out: eval \"$(terraform output -raw backend_env)\"."
  value       = join("", [for k, v in local.backend_environment : "export ${k}=${v}\n" if v != ""])

  depends_on = [
    aws_iam_role_policy.execution,
    aws_ecr_repository_policy.derived,
    aws_efs_mount_target.volumes,
    aws_efs_file_system_policy.volumes,
  ]
}

output "ecr_registry" {
  description = "This account's ECR registry host; docker push targets are <registry>/<repository>:<tag>."
  value       = split("/", aws_ecr_repository.derived.repository_url)[0]
}

output "execution_role_arn" {
  description = "The functions' execution role."
  value       = aws_iam_role.execution.arn
}

output "backend_policy_arn" {
  description = "The backend's least-privilege policy: attach it to the identity the backend runs as."
  value       = aws_iam_policy.backend.arn
}

output "backend_instance_profile" {
  description = "The instance profile for a backend on EC2 (create_backend_instance_profile), or null."
  value       = one(aws_iam_instance_profile.backend[*].name)
}

output "function_security_group_ids" {
  description = "The functions' security groups in VPC mode: allow the callback port from these on the backend's host."
  value       = local.function_security_group_ids
}

output "efs_file_system_id" {
  description = "The named volumes' EFS file system (enable_efs), or null."
  value       = one(aws_efs_file_system.volumes[*].id)
}
