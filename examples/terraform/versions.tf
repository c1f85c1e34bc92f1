terraform {
  required_version = ">= 1.5.0"

  required_providers {
    # 5.61 added aws_ecr_repository_creation_template; the credential_arn of
    # aws_ecr_pull_through_cache_rule came earlier in 5.x.
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.61"
    }
  }
}
