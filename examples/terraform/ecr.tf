# ---------------------------------------------------------------------------
# Derived images: each image a container runs, plus one layer holding the
# agent, tagged agent-<hash of base digest, agent and architecture>
# (backend/derive.go). Every function is created from an image here.
# ---------------------------------------------------------------------------

resource "aws_ecr_repository" "derived" {
  name                 = var.ecr_repository_name
  image_tag_mutability = "MUTABLE"
  force_delete         = var.ecr_force_delete

  image_scanning_configuration {
    scan_on_push = var.ecr_scan_on_push
  }
}

resource "aws_ecr_lifecycle_policy" "derived" {
  repository = aws_ecr_repository.derived.name

  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images"

        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = var.ecr_untagged_expire_days
        }

        action = {
          type = "expire"
        }
      },
      {
        rulePriority = 2
        description  = "Keep the most recent derived images"

        selection = {
          tagStatus     = "tagged"
          tagPrefixList = ["agent-"]
          countType     = "imageCountMoreThan"
          countNumber   = var.ecr_keep_derived_images
        }

        action = {
          type = "expire"
        }
      },
    ]
  })
}

# Lambda pulls a function's image with its own service principal. With this
# statement in the repository policy, Lambda finds the access it needs and
# does not try to add it itself, which would need ecr:SetRepositoryPolicy
# and ecr:GetRepositoryPolicy in the backend's policy.
data "aws_iam_policy_document" "derived_repository" {
  statement {
    sid     = "LambdaPullsFunctionImages"
    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "aws:SourceArn"
      values   = [local.function_arn_pattern]
    }
  }
}

resource "aws_ecr_repository_policy" "derived" {
  repository = aws_ecr_repository.derived.name
  policy     = data.aws_iam_policy_document.derived_repository.json
}

# ---------------------------------------------------------------------------
# Docker Hub through ECR's pull-through cache: docker pull busybox resolves
# to <registry>/<prefix>/library/busybox, which ECR fills from Docker Hub on
# the first pull. ECR requires a Docker Hub credential, in a Secrets Manager
# secret whose name starts with ecr-pullthroughcache/; ECR reads it through
# its service-linked role (AWSServiceRoleForECRPullThroughCache).
# ---------------------------------------------------------------------------

resource "aws_secretsmanager_secret" "docker_hub" {
  name                    = var.docker_hub_secret_name
  description             = "Docker Hub credential of the ECR pull-through cache rule ${var.pull_through_prefix}"
  recovery_window_in_days = var.secret_recovery_window_days
}

resource "aws_secretsmanager_secret_version" "docker_hub" {
  secret_id = aws_secretsmanager_secret.docker_hub.id

  secret_string = jsonencode({
    username    = var.docker_hub_username
    accessToken = var.docker_hub_access_token
  })
}

resource "aws_ecr_pull_through_cache_rule" "docker_hub" {
  ecr_repository_prefix = var.pull_through_prefix
  upstream_registry_url = "registry-1.docker.io"
  credential_arn        = aws_secretsmanager_secret.docker_hub.arn

  depends_on = [aws_secretsmanager_secret_version.docker_hub]
}

# The repositories the pull-through cache creates (one per image, on its
# first pull) get this lifecycle policy. Only untagged images are expired:
# those whose tag moved upstream since they were cached. A tagged image is
# what the next docker pull of that tag resolves to.
resource "aws_ecr_repository_creation_template" "pull_through" {
  prefix      = var.pull_through_prefix
  description = "Repositories of the sockerless Docker Hub pull-through cache"
  applied_for = ["PULL_THROUGH_CACHE"]

  lifecycle_policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Expire untagged images"

        selection = {
          tagStatus   = "untagged"
          countType   = "sinceImagePushed"
          countUnit   = "days"
          countNumber = var.ecr_untagged_expire_days
        }

        action = {
          type = "expire"
        }
      },
    ]
  })
}
