#!/usr/bin/env bash
# Phase 2 of a deploy, started from the GitHub runner: upload this commit as the build input of the
# environment's deploy runner, start the build, stream its log, and exit with its result.
#
#   .ci/deploy/run-in-vpc.sh ENV COMMIT
#
# Needs AWS credentials (the environment's GitHub OIDC deploy role) with s3:PutObject on
# <state bucket>/deploy-sources/ENV/*, codebuild:StartBuild and codebuild:BatchGetBuilds on the project
# mlops-ENV-deploy, logs:GetLogEvents on /aws/codebuild/mlops-ENV-deploy and ecr:DescribeImages on the
# environment's mlflow repository; PULUMI_BACKEND_URL (s3://<state bucket>?region=...) names the bucket.
set -euo pipefail
cd "$(dirname "$0")/../.."

env_name="${1:?usage: run-in-vpc.sh ENV COMMIT}"
commit="${2:?usage: run-in-vpc.sh ENV COMMIT}"
backend="${PULUMI_BACKEND_URL:?PULUMI_BACKEND_URL (s3://<state bucket>?region=...) is not set}"
bucket="${backend#s3://}"
bucket="${bucket%%\?*}"
bucket="${bucket%%/*}"
project="mlops-${env_name}-deploy"
key="deploy-sources/${env_name}/source.zip"
log_group="/aws/codebuild/${project}"

# MLflow's image must be in the repository phase 1 created before the in-cluster rollout can finish.
image_tag="$(python -c 'from mlops_platform.components.mlflow.server import IMAGE_TAG; print(IMAGE_TAG)')"
if ! aws ecr describe-images --repository-name "mlops-${env_name}/mlflow" \
  --image-ids "imageTag=${image_tag}" >/dev/null 2>&1; then
  echo "::error::mlops-${env_name}/mlflow:${image_tag} is not in ECR yet: run the mlflow-image workflow" \
    "(it pushes to the repository phase 1 just created), then re-run this deploy (phase 1 is idempotent)." >&2
  exit 1
fi

# Exactly this commit's tracked files: no .git, no workspace leftovers.
archive="$(mktemp -d)/source.zip"
git archive --format=zip --output "$archive" "$commit"
# No encryption header: the state bucket's default (SSE-KMS with its customer-managed key, `mlops bootstrap`)
# applies; `--server-side-encryption aws:kms` without a key id would pick the AWS-managed aws/s3 key instead.
version="$(aws s3api put-object --bucket "$bucket" --key "$key" --body "$archive" \
  --query VersionId --output text)"
if [ -z "$version" ] || [ "$version" = "None" ] || [ "$version" = "null" ]; then
  echo "::error::s3://${bucket}/${key} has no version ID: the state bucket must be versioned (mlops bootstrap)" >&2
  exit 1
fi

# The build reads that object version, whatever is uploaded after it.
build_id="$(aws codebuild start-build --project-name "$project" --source-version "$version" \
  --environment-variables-override "name=DEPLOY_COMMIT,value=${commit},type=PLAINTEXT" \
  --query build.id --output text)"
echo "started ${build_id} (s3://${bucket}/${key} version ${version})"
stream="${build_id#*:}"

token=""
status="IN_PROGRESS"
while :; do
  if aws logs describe-log-streams --log-group-name "$log_group" --log-stream-name-prefix "$stream" \
    --query 'logStreams[0].logStreamName' --output text 2>/dev/null | grep -q "$stream"; then
    while :; do
      args=(--log-group-name "$log_group" --log-stream-name "$stream" --start-from-head --output json)
      [ -n "$token" ] && args+=(--next-token "$token")
      page="$(aws logs get-log-events "${args[@]}")"
      python -c 'import json, sys; [print(e["message"], end="") for e in json.load(sys.stdin)["events"]]' <<<"$page"
      next="$(python -c 'import json, sys; print(json.load(sys.stdin)["nextForwardToken"])' <<<"$page")"
      [ "$next" = "$token" ] && break
      token="$next"
    done
  fi
  [ "$status" != "IN_PROGRESS" ] && break
  status="$(aws codebuild batch-get-builds --ids "$build_id" --query 'builds[0].buildStatus' --output text)"
  [ "$status" = "IN_PROGRESS" ] && sleep 15
done

echo "build ${build_id}: ${status}"
[ "$status" = "SUCCEEDED" ]
