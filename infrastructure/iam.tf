# Four roles, each allowed only what it needs:
#   execution  - ECS agent at task start: pull the image, read the two
#                secrets, write the log stream
#   task       - the running usersvc process: nothing (it calls no AWS API)
#   codedeploy - CodeDeploy shifting ALB traffic between task sets
#   deploy     - the GitHub Actions deploy workflow, through OIDC (no keys)

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

# ---- Task execution role ------------------------------------------------------

resource "aws_iam_role" "execution" {
  name               = "${local.name}-execution"
  description        = "ECS pulls the usersvc image, reads its secrets and writes its logs"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # no resource-level permission exists for it
  }

  statement {
    sid = "PullImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [aws_ecr_repository.app.arn]
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.app.arn}:*"]
  }

  statement {
    sid       = "ReadSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [for s in local.app_secrets : s.valueFrom] # ecs.tf: exactly the container's
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "pull-image-read-secrets-write-logs"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# ---- Task role ----------------------------------------------------------------
# Deliberately without policies: usersvc talks to PostgreSQL and Redis over
# the network, not to AWS APIs. Grant here what a future feature needs (e.g.
# ses:SendEmail for mail), and nothing more.

data "aws_iam_policy_document" "task_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    # Only ECS tasks of this account (confused-deputy protection).
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["${local.arn_prefix}:ecs:${local.region_account}:*"]
    }
  }
}

resource "aws_iam_role" "task" {
  name               = "${local.name}-task"
  description        = "The usersvc process; no AWS permissions"
  assume_role_policy = data.aws_iam_policy_document.task_assume.json
}

# ---- CodeDeploy service role --------------------------------------------------

data "aws_iam_policy_document" "codedeploy_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["codedeploy.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "codedeploy" {
  name               = "${local.name}-codedeploy"
  description        = "CodeDeploy blue/green deployments of the usersvc ECS service"
  assume_role_policy = data.aws_iam_policy_document.codedeploy_assume.json
}

resource "aws_iam_role_policy_attachment" "codedeploy" {
  role       = aws_iam_role.codedeploy.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AWSCodeDeployRoleForECS"
}

# ---- GitHub Actions deploy role (OIDC) ---------------------------------------

resource "aws_iam_openid_connect_provider" "github" {
  count = var.github_oidc_provider_arn == "" ? 1 : 0

  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
  # IAM no longer checks these for GitHub (it trusts its own CA list), but
  # older provider versions require the argument.
  thumbprint_list = [
    "6938fd4d98bab03faadb97b34396831e3780aea1",
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
  ]
}

locals {
  github_oidc_provider_arn = var.github_oidc_provider_arn != "" ? var.github_oidc_provider_arn : aws_iam_openid_connect_provider.github[0].arn
}

# Only jobs of this repository that run in the GitHub environment named like
# this one (staging/production, with its protection rules) get the role:
# their token's subject is repo:<owner>/<name>:environment:<environment>.
data "aws_iam_policy_document" "deploy_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:environment:${var.environment}"]
    }
  }
}

resource "aws_iam_role" "deploy" {
  name               = "${local.name}-github-deploy"
  description        = "GitHub Actions (${var.github_repository}, environment ${var.environment}) pushes images and deploys usersvc"
  assume_role_policy = data.aws_iam_policy_document.deploy_assume.json
  # A production deployment waits for the canary step and the 30-minute
  # termination wait: the workflow asks for 2-hour credentials.
  max_session_duration = 7200
}

locals {
  arn_prefix         = "arn:${data.aws_partition.current.partition}"
  region_account     = "${var.aws_region}:${data.aws_caller_identity.current.account_id}"
  ecs_cluster_arn    = aws_ecs_cluster.main.arn
  task_family_arn    = "${local.arn_prefix}:ecs:${local.region_account}:task-definition/${aws_ecs_task_definition.app.family}:*"
  ecs_tasks_arn      = "${local.arn_prefix}:ecs:${local.region_account}:task/${aws_ecs_cluster.main.name}/*"
  codedeploy_app_arn = "${local.arn_prefix}:codedeploy:${local.region_account}:application:${aws_codedeploy_app.app.name}"
  codedeploy_dg_arn  = "${local.arn_prefix}:codedeploy:${local.region_account}:deploymentgroup:${aws_codedeploy_app.app.name}/${aws_codedeploy_deployment_group.app.deployment_group_name}"
  codedeploy_cfg_arn = "${local.arn_prefix}:codedeploy:${local.region_account}:deploymentconfig:*"
}

data "aws_iam_policy_document" "deploy" {
  statement {
    sid       = "EcrAuth"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PushImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:CompleteLayerUpload",
      "ecr:DescribeImages",
      "ecr:GetDownloadUrlForLayer",
      "ecr:InitiateLayerUpload",
      "ecr:PutImage",
      "ecr:UploadLayerPart",
    ]
    resources = [aws_ecr_repository.app.arn]
  }

  # Register/Describe task definitions support no resource-level permissions.
  statement {
    sid       = "TaskDefinitions"
    actions   = ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"]
    resources = ["*"]
  }

  # The one-off migration task: only this family, only on this cluster.
  statement {
    sid       = "RunMigration"
    actions   = ["ecs:RunTask"]
    resources = [local.task_family_arn]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [local.ecs_cluster_arn]
    }
  }

  statement {
    sid       = "WatchTasks"
    actions   = ["ecs:DescribeTasks"]
    resources = [local.ecs_tasks_arn]
  }

  statement {
    sid       = "DescribeService"
    actions   = ["ecs:DescribeServices"]
    resources = [aws_ecs_service.app.id]
  }

  # The task definition names these two roles; ECS may use them, nothing else.
  statement {
    sid       = "PassTaskRoles"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.execution.arn, aws_iam_role.task.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  statement {
    sid = "BlueGreenDeploy"
    actions = [
      "codedeploy:CreateDeployment",
      "codedeploy:GetApplication",
      "codedeploy:GetApplicationRevision",
      "codedeploy:GetDeployment",
      "codedeploy:GetDeploymentConfig",
      "codedeploy:GetDeploymentGroup",
      "codedeploy:RegisterApplicationRevision",
    ]
    resources = [
      local.codedeploy_app_arn,
      local.codedeploy_dg_arn,
      local.codedeploy_cfg_arn,
    ]
  }

  # Show the migration's output in the workflow log when it fails.
  statement {
    sid       = "ReadMigrationLogs"
    actions   = ["logs:GetLogEvents"]
    resources = ["${aws_cloudwatch_log_group.app.arn}:*"]
  }
}

resource "aws_iam_role_policy" "deploy" {
  name   = "push-migrate-deploy"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.deploy.json
}
