# ===========================================================================
# The functions' execution role (SOCKERLESS_LAMBDA_ROLE_ARN)
#
# What Lambda does on a function's behalf: write its logs and, in VPC mode,
# manage its network interfaces and mount the volumes' file system. The
# agent in the function calls no AWS API: it talks only to the backend's
# callback listener, so the role grants nothing else. Its credentials are
# within reach of the containers' processes (they run as the agent's user,
# which can read its environment): keep it to what Lambda itself needs, and
# give the containers' own code AWS access by other means (credentials in
# the container's environment), never through this role.
# ===========================================================================

data "aws_iam_policy_document" "lambda_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-lambda-execution"
  description        = "Execution role of the Lambda functions sockerless-backend-lambda creates"
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json

  lifecycle {
    precondition {
      condition     = length(var.security_group_ids) == 0 || length(var.subnet_ids) > 0
      error_message = "security_group_ids needs subnet_ids: the functions run in a VPC only when subnets are given."
    }
  }
}

data "aws_iam_policy_document" "execution" {
  # Lambda writes each function's output (the container's stdout and stderr
  # as the agent frames them, and START/END/REPORT) to the log group named
  # in the function's LoggingConfig. The group exists (logs.tf), so
  # logs:CreateLogGroup is not granted.
  statement {
    sid       = "WriteFunctionLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.functions.arn}:*"]
  }

  # VPC mode only (SOCKERLESS_LAMBDA_SUBNETS): Lambda creates and deletes the
  # functions' network interfaces with the execution role. These are the
  # network-interface actions of the managed policy
  # AWSLambdaVPCAccessExecutionRole; EC2 supports no resource scoping for
  # the Describe actions.
  dynamic "statement" {
    for_each = local.vpc_mode ? [1] : []

    content {
      sid = "ManageFunctionNetworkInterfaces"

      actions = [
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
      ]

      resources = ["*"]
    }
  }

  # The same actions, denied to code running in the functions. A container's
  # process runs as the same user as the agent, so it can read the role's
  # credentials from the agent's environment. Lambda marks every request
  # made from inside a function with lambda:SourceFunctionArn, and its own
  # network-interface calls without it, so this Deny leaves Lambda's calls
  # alone.
  dynamic "statement" {
    for_each = local.vpc_mode ? [1] : []

    content {
      sid    = "DenyNetworkInterfacesToFunctionCode"
      effect = "Deny"

      actions = [
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
      ]

      resources = ["*"]

      condition {
        test     = "Null"
        variable = "lambda:SourceFunctionArn"
        values   = ["false"]
      }
    }
  }

  # Named volumes (enable_efs): Lambda mounts the access point with the
  # execution role's identity; read-write needs ClientWrite. Only through
  # the one access point, never the file system's root.
  dynamic "statement" {
    for_each = var.enable_efs ? [1] : []

    content {
      sid       = "MountVolumesAccessPoint"
      actions   = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
      resources = [local.efs_file_system_arn]

      condition {
        test     = "StringEquals"
        variable = "elasticfilesystem:AccessPointArn"
        values   = [local.efs_access_point_arn]
      }
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "${var.name}-lambda-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# ===========================================================================
# The backend's own policy: only the calls sockerless-backend-lambda makes,
# on only its resources. Attach it to the identity the backend runs as
# (backend_role_name, backend_user_name, or the instance profile below).
#
# Left out on purpose: ecr:CreatePullThroughCacheRule. The backend calls it
# only when the Docker Hub rule is missing, and on AWS that call fails
# anyway without a Docker Hub credential; the rule is created in ecr.tf, so
# the backend only finds it (DescribePullThroughCacheRules). The backend's
# sts:GetCallerIdentity at start needs no permission.
# ===========================================================================

data "aws_iam_policy_document" "backend" {
  # docker create, start, update, rm (backend/functions.go, update.go):
  # - CreateFunction: one function per container, from its derived image;
  # - TagResource: the function is created with tags carrying the
  #   container's identity (sockerless:managed, sockerless:container-id,
  #   sockerless:name), which needs this action besides CreateFunction;
  # - GetFunction: the FunctionActiveV2 waiter (docker create waits until
  #   the function is Active) and the FunctionUpdatedV2 waiter (docker
  #   update) poll it;
  # - ListTags: GetFunction of a tagged function also needs it;
  # - PutFunctionEventInvokeConfig: retries off, a container runs once per
  #   start;
  # - InvokeFunction: docker start, an asynchronous Invoke (Event);
  # - UpdateFunctionConfiguration: docker update -m (MemorySize);
  # - DeleteFunction: docker rm, docker run --rm, a failed create.
  statement {
    sid = "ContainerFunctions"

    actions = [
      "lambda:CreateFunction",
      "lambda:TagResource",
      "lambda:GetFunction",
      "lambda:ListTags",
      "lambda:PutFunctionEventInvokeConfig",
      "lambda:InvokeFunction",
      "lambda:UpdateFunctionConfiguration",
      "lambda:DeleteFunction",
    ]

    resources = [local.function_arn_pattern]
  }

  # Restart (backend/recover.go): ListFunctions, paged, once at start, says
  # which containers' functions still exist. Lambda does not scope it to
  # resources.
  statement {
    sid       = "ListFunctionsAtStart"
    actions   = ["lambda:ListFunctions"]
    resources = ["*"]
  }

  # docker create: CreateFunction passes the execution role to Lambda.
  # Only that role, and only to Lambda.
  statement {
    sid       = "PassExecutionRoleToLambda"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.execution.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["lambda.amazonaws.com"]
    }
  }

  # Configuration check at start (backend/validate.go): the backend reads
  # the execution role, to say at once rather than at the first docker
  # create that SOCKERLESS_LAMBDA_ROLE_ARN does not exist or does not trust
  # Lambda. Without this grant the check is skipped with a warning.
  statement {
    sid       = "ValidateExecutionRole"
    actions   = ["iam:GetRole"]
    resources = [aws_iam_role.execution.arn]
  }

  # Start and restart (backend/functions.go, journal.go, recover.go):
  # CreateLogGroup makes the group if it is missing (here it exists, and
  # the call answers that it does), for both groups; DescribeLogStreams lists
  # the container journals (prefix sockerless/containers/) and finds a run's
  # log streams.
  statement {
    sid     = "LogGroupAtStart"
    actions = ["logs:CreateLogGroup", "logs:DescribeLogStreams"]

    resources = [
      aws_cloudwatch_log_group.functions.arn,
      "${aws_cloudwatch_log_group.functions.arn}:*",
      aws_cloudwatch_log_group.journal.arn,
      "${aws_cloudwatch_log_group.journal.arn}:*",
    ]
  }

  # The journals (backend/journal.go, image_journal.go, networks.go,
  # volumes.go): every create, start, exit, rename, update, pull, network and
  # volume change is an event in a stream of the journal group; docker rm
  # deletes the container's journal and its output streams.
  statement {
    sid     = "WriteJournals"
    actions = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DeleteLogStream"]

    resources = [
      aws_cloudwatch_log_group.functions.arn,
      "${aws_cloudwatch_log_group.functions.arn}:*",
      aws_cloudwatch_log_group.journal.arn,
      "${aws_cloudwatch_log_group.journal.arn}:*",
    ]
  }

  # docker logs, docker attach with logs=1, a run followed without its agent,
  # and replaying the journals at restart (backend/logs.go, journal.go,
  # recover.go): GetLogEvents on the functions' streams and the journals.
  statement {
    sid     = "ReadLogsAndJournals"
    actions = ["logs:GetLogEvents"]

    resources = [
      aws_cloudwatch_log_group.functions.arn,
      "${aws_cloudwatch_log_group.functions.arn}:*",
      aws_cloudwatch_log_group.journal.arn,
      "${aws_cloudwatch_log_group.journal.arn}:*",
    ]
  }

  # Every registry operation (pull, derive, load, push, docker cp from a
  # created container) authenticates with an ECR token (backend/images.go).
  # ECR does not scope GetAuthorizationToken to resources.
  statement {
    sid       = "RegistryToken"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  # docker pull (backend/images.go): finds the pull-through cache rule for
  # Docker Hub (by prefix) or for another registry (by upstream URL, paged).
  # A registry-level read.
  statement {
    sid       = "FindPullThroughCacheRules"
    actions   = ["ecr:DescribePullThroughCacheRules"]
    resources = ["*"]
  }

  # docker create (backend/derive.go): reads whether the derived image is
  # there (BatchGetImage), pushes it when it is not (layer upload, PutImage),
  # and docker cp from a created container reads its layers.
  statement {
    sid = "DerivedImages"

    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload",
      "ecr:PutImage",
    ]

    resources = [aws_ecr_repository.derived.arn]
  }

  # docker load (backend/image_transfer.go): each image is pushed to
  # <repository>/<name>, a repository the backend creates if missing; the
  # image is read back when a container of it is created.
  statement {
    sid = "LoadedImages"

    actions = [
      "ecr:CreateRepository",
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload",
      "ecr:PutImage",
    ]

    resources = ["${local.ecr_repository_arn_prefix}/${var.ecr_repository_name}/*"]
  }

  # docker pull of a Docker Hub image, through the pull-through cache
  # (backend/images.go): the first pull of an image imports it from Docker
  # Hub (BatchImportUpstreamImage) into a repository ECR creates on the
  # caller's behalf (CreateRepository); then the manifest and layers are
  # read, by the pull and by the derive.
  statement {
    sid = "DockerHubPullThroughCache"

    actions = [
      "ecr:BatchImportUpstreamImage",
      "ecr:CreateRepository",
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]

    resources = ["${local.ecr_repository_arn_prefix}/${var.pull_through_prefix}/*"]
  }

  # Opt-in (additional_ecr_repositories): docker push targets (the backend
  # creates the repository if missing), images pulled by their ECR name,
  # other pull-through cache rules' prefixes.
  dynamic "statement" {
    for_each = length(var.additional_ecr_repositories) > 0 ? [1] : []

    content {
      sid = "AdditionalRepositories"

      actions = [
        "ecr:BatchImportUpstreamImage",
        "ecr:CreateRepository",
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
      ]

      resources = [for r in var.additional_ecr_repositories : "${local.ecr_repository_arn_prefix}/${r}"]
    }
  }

  # VPC mode only. CreateFunction with a VpcConfig: Lambda checks the
  # subnets and security groups with the caller's permissions
  # (DescribeSecurityGroups, DescribeSubnets, DescribeVpcs); the backend's
  # configuration check at start (backend/validate.go) reads the same
  # subnets and security groups, to check they are in one VPC. EC2 does not
  # scope these Describe actions to resources.
  dynamic "statement" {
    for_each = local.vpc_mode ? [1] : []

    content {
      sid       = "CheckVpcConfig"
      actions   = ["ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"]
      resources = ["*"]
    }
  }

  # Named volumes only (enable_efs). CreateFunction with FileSystemConfigs:
  # Lambda checks the file system's mount targets with the caller's
  # permissions (DescribeMountTargets); the backend's configuration check at
  # start (backend/validate.go) reads the access point (DescribeAccessPoints).
  dynamic "statement" {
    for_each = var.enable_efs ? [1] : []

    content {
      sid       = "CheckVolumesAccessPoint"
      actions   = ["elasticfilesystem:DescribeAccessPoints", "elasticfilesystem:DescribeMountTargets"]
      resources = [local.efs_file_system_arn, local.efs_access_point_arn]
    }
  }
}

resource "aws_iam_policy" "backend" {
  name        = "${var.name}-backend"
  description = "What sockerless-backend-lambda calls: its Lambda functions, log group, ECR repositories"
  policy      = data.aws_iam_policy_document.backend.json
}

resource "aws_iam_role_policy_attachment" "backend" {
  count = var.backend_role_name == null ? 0 : 1

  role       = var.backend_role_name
  policy_arn = aws_iam_policy.backend.arn
}

resource "aws_iam_user_policy_attachment" "backend" {
  count = var.backend_user_name == null ? 0 : 1

  user       = var.backend_user_name
  policy_arn = aws_iam_policy.backend.arn
}

# Optional: a role and instance profile for a backend on an EC2 instance
# (create_backend_instance_profile). The backend then finds its credentials
# through the standard chain, from the instance metadata service.

data "aws_iam_policy_document" "ec2_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "backend_instance" {
  count = var.create_backend_instance_profile ? 1 : 0

  name               = "${var.name}-backend-instance"
  description        = "Instance role of the host that runs sockerless-backend-lambda"
  assume_role_policy = data.aws_iam_policy_document.ec2_trust.json
}

resource "aws_iam_role_policy_attachment" "backend_instance" {
  count = var.create_backend_instance_profile ? 1 : 0

  role       = aws_iam_role.backend_instance[0].name
  policy_arn = aws_iam_policy.backend.arn
}

resource "aws_iam_instance_profile" "backend" {
  count = var.create_backend_instance_profile ? 1 : 0

  name = "${var.name}-backend"
  role = aws_iam_role.backend_instance[0].name
}
