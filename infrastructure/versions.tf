terraform {
  # The design pins Terraform ~1.7: any 1.x from 1.7 on. CI checks with 1.7.5.
  required_version = "~> 1.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # Partial configuration: the bucket, key, region and lock table come from
  # environments/<env>.s3.tfbackend at init time, so one configuration serves
  # both environments, each with its own state:
  #   terraform init -backend-config=environments/staging.s3.tfbackend
  # See README.md ("State").
  backend "s3" {}
}

provider "aws" {
  region = var.aws_region

  # Refuse to run against the wrong account (e.g. production credentials with
  # staging variables). Empty: no check.
  allowed_account_ids = length(var.aws_account_id) > 0 ? [var.aws_account_id] : null

  default_tags {
    tags = {
      Project     = var.project
      Environment = var.environment
      ManagedBy   = "terraform"
      Repository  = var.github_repository
    }
  }
}
