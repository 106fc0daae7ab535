# Terraform and provider versions, the provider itself, and the few facts every other file uses.

terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.60"
    }
  }

  # Remote state in S3, one key per environment, configured at `terraform init` (see README.md).
  backend "s3" {}
}

provider "aws" {
  region = var.aws_region

  # Every taggable resource carries these; resources add a Name where it helps in the console.
  default_tags {
    tags = {
      Project     = var.project
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name       = "${var.project}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition
  region     = var.aws_region

  # one public and one private subnet in each availability zone
  azs = var.availability_zones
}
