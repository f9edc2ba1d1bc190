locals {
  # usersvc-staging, usersvc-production: the prefix of every name.
  name = "${var.project}-${var.environment}"

  # The container in the task definition; the deploy workflow and
  # appspec.yaml refer to it by this name.
  container_name = var.project
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}
