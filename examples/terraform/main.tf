# Everything sockerless-backend-lambda needs in an AWS account, except the
# host the backend itself runs on: see README.md for the walk-through.
#
#   logs.tf     the functions' log group, which also holds the backend's journals
#   ecr.tf      the derived-image repository, the Docker Hub pull-through cache
#   iam.tf      the functions' execution role; the backend's own policy
#   network.tf  optional VPC mode: the functions' security group
#   efs.tf      optional named volumes: EFS file system and access point
#   outputs.tf  the backend's environment

provider "aws" {
  region = var.region

  default_tags {
    tags = var.tags
  }
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name

  # The backend names each container's function sockerless-<24 hex digits of
  # the container ID> (backend/functions.go): the prefix is fixed.
  function_arn_pattern = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:sockerless-*"

  ecr_repository_arn_prefix = "arn:${local.partition}:ecr:${local.region}:${local.account_id}:repository"

  vpc_mode = length(var.subnet_ids) > 0
}
