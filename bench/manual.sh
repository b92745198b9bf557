#!/usr/bin/env bash
# The documented manual upgrade from Milvus 2.5.x to 2.6.x with Helm, as a user would paste it
# into a `run:` step: add the chart repository, the two hops with --wait, then a look at the
# release. `npm run bench` times it against the action with the same Helm, chart repository,
# release and timeout.
#
# Caution: run as is against a release whose chart defaulted to Pulsar v2 (chart < 4.2.27) and
# chart 4.2.58 switches it to Pulsar v3, leaving the data in the old queue behind. The action pins
# the queue the release uses; this script does not.
set -euo pipefail

HELM="${HELM:-helm}"
RELEASE="${RELEASE:-my-release}"
NAMESPACE="${NAMESPACE:-default}"
CHART_REPOSITORY="${CHART_REPOSITORY:-https://zilliztech.github.io/milvus-helm/}"
TIMEOUT="${TIMEOUT:-20m}"

"$HELM" repo add zilliztech "$CHART_REPOSITORY"
"$HELM" repo update zilliztech

# Hop 1: Milvus v2.5.16 on chart 4.2.58, with mixCoordinator instead of the four coordinators.
"$HELM" upgrade "$RELEASE" zilliztech/milvus --namespace "$NAMESPACE" --version 4.2.58 \
  --reset-then-reuse-values \
  --set image.all.tag=v2.5.16 \
  --set mixCoordinator.enabled=true \
  --set rootCoordinator.enabled=false \
  --set queryCoordinator.enabled=false \
  --set dataCoordinator.enabled=false \
  --set indexCoordinator.enabled=false \
  --wait --timeout "$TIMEOUT"

# Hop 2: Milvus v2.6.4 on chart 5.0.0, with the streaming node and without the index node.
"$HELM" upgrade "$RELEASE" zilliztech/milvus --namespace "$NAMESPACE" --version 5.0.0 \
  --reset-then-reuse-values \
  --set image.all.tag=v2.6.4 \
  --set streaming.enabled=true \
  --set indexNode.enabled=false \
  --wait --timeout "$TIMEOUT"

"$HELM" list --namespace "$NAMESPACE"
