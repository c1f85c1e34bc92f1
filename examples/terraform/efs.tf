# Named volumes (optional, enable_efs; needs subnet_ids). The backend mounts
# ONE access point at /mnt/sockerless in each function whose container has a
# volume (Lambda mounts at most one file system per function), and keeps
# each named volume in a directory under it. The backend's setting is
# SOCKERLESS_EFS_ACCESS_POINT_ARN.
#
# The access point's choices:
# - posix_user 1000:1000: every file operation through the access point is
#   done as this user, whatever user the function's process runs as (on
#   Lambda, a sandbox user the image does not choose). So files written by
#   one container are readable and writable by the next, and the agent can
#   create each volume's directory. In a volume, chown fails and every file
#   is owned by 1000:1000: images that insist on owning their data
#   directory with another user (postgres, mysql) do not work on it.
# - root directory /sockerless-volumes, created by EFS on the first mount,
#   owned by 1000:1000, mode 755: the access point's user owns it, so no
#   wider mode is needed, and nothing else writes there (the file system
#   policy below admits mounts through the access point only).

locals {
  efs_file_system_arn  = one(aws_efs_file_system.volumes[*].arn)
  efs_access_point_arn = one(aws_efs_access_point.volumes[*].arn)
}

resource "aws_efs_file_system" "volumes" {
  count = var.enable_efs ? 1 : 0

  creation_token   = "${var.name}-volumes"
  encrypted        = true
  performance_mode = "generalPurpose"
  throughput_mode  = "elastic"

  tags = {
    Name = "${var.name}-volumes"
  }

  lifecycle {
    precondition {
      condition     = length(var.subnet_ids) > 0
      error_message = "enable_efs needs subnet_ids: Lambda mounts EFS only into functions that run in a VPC."
    }
  }
}

# NFS from the functions' security groups, nothing else.
resource "aws_security_group" "efs" {
  count = var.enable_efs ? 1 : 0

  name        = "${var.name}-efs"
  description = "sockerless volumes: NFS from the sockerless Lambda functions only"
  vpc_id      = local.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "efs_nfs" {
  count = var.enable_efs ? length(local.function_security_group_ids) : 0

  security_group_id            = aws_security_group.efs[0].id
  description                  = "NFS from the sockerless functions"
  referenced_security_group_id = local.function_security_group_ids[count.index]
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
}

# One mount target per subnet: the subnets must be in different
# availability zones (EFS allows one mount target per zone).
resource "aws_efs_mount_target" "volumes" {
  for_each = var.enable_efs ? toset(var.subnet_ids) : toset([])

  file_system_id  = aws_efs_file_system.volumes[0].id
  subnet_id       = each.value
  security_groups = [aws_security_group.efs[0].id]
}

resource "aws_efs_access_point" "volumes" {
  count = var.enable_efs ? 1 : 0

  file_system_id = aws_efs_file_system.volumes[0].id

  root_directory {
    path = var.efs_root_directory

    creation_info {
      owner_uid   = var.efs_uid
      owner_gid   = var.efs_gid
      permissions = var.efs_root_permissions
    }
  }

  posix_user {
    uid = var.efs_uid
    gid = var.efs_gid
  }

  tags = {
    Name = "${var.name}-volumes"
  }
}

# Without a file system policy, EFS lets any client that reaches a mount
# target mount the whole file system. This one admits only the functions'
# execution role, only through the access point.
data "aws_iam_policy_document" "efs" {
  count = var.enable_efs ? 1 : 0

  statement {
    sid       = "FunctionsMountThroughTheAccessPoint"
    actions   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
    resources = [aws_efs_file_system.volumes[0].arn]

    principals {
      type        = "AWS"
      identifiers = [aws_iam_role.execution.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "elasticfilesystem:AccessPointArn"
      values   = [aws_efs_access_point.volumes[0].arn]
    }
  }
}

resource "aws_efs_file_system_policy" "volumes" {
  count = var.enable_efs ? 1 : 0

  file_system_id = aws_efs_file_system.volumes[0].id
  policy         = data.aws_iam_policy_document.efs[0].json
}
