#!/bin/bash
# Writes a kubernetes.io/dockerconfigjson Secret for ECR, with a fresh
# 12-hour login token, for the next container to apply. Runs in the
# aws-cli image; reads AWS_* and ECR_REGISTRY, PULL_SECRET_NAME and
# TARGET_NAMESPACE (the app's) from the environment.
set -euo pipefail
: "${ECR_REGISTRY:?}" "${PULL_SECRET_NAME:?}" "${TARGET_NAMESPACE:?}"
token=$(aws ecr get-login-password --region "${AWS_REGION:?}")
auth=$(printf 'AWS:%s' "$token" | base64 -w0)
config=$(printf '{"auths":{"%s":{"auth":"%s"}}}' "$ECR_REGISTRY" "$auth" | base64 -w0)
umask 077
cat > /work/secret.json <<JSON
{"apiVersion":"v1","kind":"Secret","type":"kubernetes.io/dockerconfigjson",
 "metadata":{"name":"${PULL_SECRET_NAME}","namespace":"${TARGET_NAMESPACE}",
  "labels":{"app.kubernetes.io/managed-by":"ecr-pull-refresh"}},
 "data":{".dockerconfigjson":"${config}"}}
JSON
echo "wrote ${PULL_SECRET_NAME} for ${ECR_REGISTRY}"
