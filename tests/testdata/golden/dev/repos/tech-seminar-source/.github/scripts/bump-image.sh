#!/usr/bin/env bash
# Sets the app's image to <repository>:<tag> in every environment overlay of
# the gitops repo checked out in <dir>, commits, and pushes to main, retrying
# when another push got there first. Only the image changes.
#
#   bump-image.sh <dir> <image name> <repository> <tag>
set -euo pipefail
if [ $# -ne 4 ]; then
  echo "usage: $0 <gitops dir> <image name> <repository> <tag>" >&2
  exit 2
fi
dir=$1 name=$2 repository=$3 tag=$4
cd "$dir"
git config user.name >/dev/null || git config user.name "gitops-monitor CI"
git config user.email >/dev/null || git config user.email "ci@users.noreply.github.com"

bump() {
  local overlays=0
  for k in manifests/*/kustomization.yaml; do
    [ "$k" = manifests/base/kustomization.yaml ] && continue
    (cd "$(dirname "$k")" && kustomize edit set image "$name=$repository:$tag")
    overlays=$((overlays + 1))
  done
  if [ "$overlays" -eq 0 ]; then
    echo "no overlays under manifests/" >&2
    exit 1
  fi
}

bump
if git diff --quiet; then
  echo "every environment already runs $repository:$tag"
  exit 0
fi
git commit -qam "Deploy $name $tag to every environment" -m "Built from ${GITHUB_REPOSITORY:-local}@${GITHUB_SHA:-unknown}."
for attempt in 1 2 3 4 5; do
  if git push -q origin HEAD:main; then
    echo "deployed $repository:$tag"
    exit 0
  fi
  echo "push raced another (attempt $attempt); rebasing" >&2
  sleep $((attempt * 2))
  git fetch -q origin main
  git reset -q --hard origin/main
  bump
  git commit -qam "Deploy $name $tag to every environment" -m "Built from ${GITHUB_REPOSITORY:-local}@${GITHUB_SHA:-unknown}."
done
echo "could not push after 5 attempts" >&2
exit 1
