# ---------------------------------------------------------------------------
# General
# ---------------------------------------------------------------------------

variable "region" {
  description = "AWS region of every resource; the backend's AWS_REGION."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Prefix of the names of the IAM roles, the IAM policy and the security groups this example creates."
  type        = string
  default     = "sockerless"
}

variable "tags" {
  description = "Tags on every resource this example creates (the provider's default_tags). The functions the backend creates carry its own tags (sockerless:managed, ...), not these."
  type        = map(string)
  default     = {}
}

# ---------------------------------------------------------------------------
# CloudWatch Logs
# ---------------------------------------------------------------------------

variable "log_group_name" {
  description = "The log group of every function (SOCKERLESS_LAMBDA_LOG_GROUP); the backend's journals go to \"<name>/journal\" (SOCKERLESS_JOURNAL_LOG_GROUP). One backend per log group."
  type        = string
  default     = "/sockerless/lambda"
}

variable "log_retention_days" {
  description = "Retention of the functions' output, in days; 0 keeps events forever. docker logs reaches back this far. The journals' group never expires."
  type        = number
  default     = 30

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch Logs' values: 0 (never expire), 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

# ---------------------------------------------------------------------------
# ECR
# ---------------------------------------------------------------------------

variable "ecr_repository_name" {
  description = "The ECR repository of the derived images (SOCKERLESS_ECR_REPOSITORY). docker load pushes under <name>/..., repositories the backend creates itself."
  type        = string
  default     = "sockerless"

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.ecr_repository_name))
    error_message = "ecr_repository_name must be an ECR repository name: lower-case letters, digits, and . _ - / between them."
  }
}

variable "ecr_scan_on_push" {
  description = "Scan each image pushed to the derived-image repository (ECR basic scanning)."
  type        = bool
  default     = false
}

variable "ecr_force_delete" {
  description = "Let terraform destroy delete the derived-image repository with its images in it. Derived images are rebuilt on demand, so nothing is lost."
  type        = bool
  default     = true
}

variable "ecr_untagged_expire_days" {
  description = "Untagged images are expired after this many days, in the derived-image repository and in the repositories the pull-through cache creates."
  type        = number
  default     = 7
}

variable "ecr_keep_derived_images" {
  description = "How many derived images (tags agent-<hash>, one per base image, agent and architecture) the lifecycle policy keeps; older ones are expired. Keep it well above the number of distinct images in use: a running backend remembers the derived images it made and does not re-push one that was expired until it restarts."
  type        = number
  default     = 200
}

variable "pull_through_prefix" {
  description = "ECR repository prefix of the Docker Hub pull-through cache rule (SOCKERLESS_ECR_PULL_THROUGH_PREFIX)."
  type        = string
  default     = "docker-hub"

  validation {
    condition     = length(var.pull_through_prefix) >= 2 && length(var.pull_through_prefix) <= 30
    error_message = "pull_through_prefix must be 2 to 30 characters long (ECR's limit)."
  }
}

variable "docker_hub_username" {
  description = "Docker Hub user name of the pull-through cache rule's credential (ECR requires one for Docker Hub)."
  type        = string
  sensitive   = true
}

variable "docker_hub_access_token" {
  description = "A Docker Hub personal access token (read-only public repositories is enough). It is stored in Secrets Manager and in the Terraform state."
  type        = string
  sensitive   = true
}

variable "docker_hub_secret_name" {
  description = "Name of the Secrets Manager secret that holds the Docker Hub credential. ECR requires the prefix ecr-pullthroughcache/."
  type        = string
  default     = "ecr-pullthroughcache/sockerless-docker-hub"

  validation {
    condition     = startswith(var.docker_hub_secret_name, "ecr-pullthroughcache/")
    error_message = "docker_hub_secret_name must start with ecr-pullthroughcache/: ECR uses no other secret for a pull-through cache rule."
  }
}

variable "secret_recovery_window_days" {
  description = "Days Secrets Manager keeps the deleted secret recoverable after terraform destroy; 0 deletes it at once, so that the same name can be created again right away."
  type        = number
  default     = 0

  validation {
    condition     = var.secret_recovery_window_days == 0 || (var.secret_recovery_window_days >= 7 && var.secret_recovery_window_days <= 30)
    error_message = "secret_recovery_window_days must be 0 or 7 to 30."
  }
}

variable "additional_ecr_repositories" {
  description = "More ECR repository names or patterns (e.g. [\"myteam/*\"]) in this account and region that the backend may read, push to and create: docker push targets, images you pull by their ECR name, the prefixes of other pull-through cache rules (ghcr.io, quay.io, ...) as \"<prefix>/*\"."
  type        = list(string)
  default     = []
}

# ---------------------------------------------------------------------------
# VPC (optional)
# ---------------------------------------------------------------------------

variable "subnet_ids" {
  description = "Subnets of the functions (SOCKERLESS_LAMBDA_SUBNETS). Empty: the functions run outside any VPC. Given: they run in these subnets, which must be in one VPC; with EFS, each in a different availability zone."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the functions (SOCKERLESS_LAMBDA_SECURITY_GROUPS). Empty with subnets given: this example creates one that allows all outbound traffic and no inbound."
  type        = list(string)
  default     = []
}

variable "backend_security_group_id" {
  description = "The security group of the backend's host, in the same VPC. When set (VPC mode), a rule lets the functions reach the callback listener on callback_port."
  type        = string
  default     = null
}

variable "callback_port" {
  description = "The port of the backend's callback listener (the port of SOCKERLESS_CALLBACK_URL, or of SOCKERLESS_CALLBACK_LISTEN): used only for the backend_security_group_id rule."
  type        = number
  default     = 8443
}

# ---------------------------------------------------------------------------
# EFS for named volumes (optional; needs subnet_ids)
# ---------------------------------------------------------------------------

variable "enable_efs" {
  description = "Create an EFS file system, its mount targets in subnet_ids and one access point for the backend's named volumes (SOCKERLESS_EFS_ACCESS_POINT_ARN)."
  type        = bool
  default     = false
}

variable "efs_root_directory" {
  description = "The access point's root directory on the file system; each named volume is a directory under it."
  type        = string
  default     = "/sockerless-volumes"
}

variable "efs_uid" {
  description = "POSIX user ID of every file operation through the access point, and owner of its root directory."
  type        = number
  default     = 1000
}

variable "efs_gid" {
  description = "POSIX group ID of every file operation through the access point, and group of its root directory."
  type        = number
  default     = 1000
}

variable "efs_root_permissions" {
  description = "Mode of the access point's root directory when EFS creates it."
  type        = string
  default     = "755"
}

# ---------------------------------------------------------------------------
# The backend's own identity
# ---------------------------------------------------------------------------

variable "backend_role_name" {
  description = "An existing IAM role the backend runs as (an instance role, an ECS task role, ...) to attach the backend policy to."
  type        = string
  default     = null
}

variable "backend_user_name" {
  description = "An existing IAM user the backend runs as to attach the backend policy to. Prefer a role: a user's access keys are long-lived."
  type        = string
  default     = null
}

variable "create_backend_instance_profile" {
  description = "Create an EC2 role and instance profile with the backend policy, for a backend on an EC2 instance."
  type        = bool
  default     = false
}
