#!/usr/bin/env bash
# Creates every Tabs topic explicitly, then checks that each has the expected partition count.
#
# Why not leave it to the workers: a worker creates a missing topic at start, but always with
# replication factor 1 and the broker's default retention. Production topics need the cluster's
# replication, min.insync.replicas and retention, and every topic must have the same partition
# count: the key rule (all messages of one account share a partition) only holds while the
# count never changes, and a worker reading several input topics relies on partition N of each
# holding the same accounts.
#
# Runs in the apache/kafka image (bash, kafka-topics.sh). Settings by environment:
#   BOOTSTRAP             host:port[,host:port]                      (kafka:9092)
#   PARTITIONS            partitions per topic, = TOPIC_PARTITIONS   (6)
#   REPLICATION_FACTOR    1 on one broker; 3 on a real cluster       (1)
#   MIN_INSYNC_REPLICAS   1 on one broker; 2 on a real cluster       (1)
#   RETENTION_MS          contract topics                            (14 days)
#   DLQ_RETENTION_MS      dead-letter topics: kept until someone looks (90 days)
#   TABS_TOPIC_PREFIX     the workers' topic prefix, normally empty
#   COMMAND_CONFIG        optional client properties file (TLS/SASL) for kafka-topics.sh
set -euo pipefail

BOOTSTRAP="${BOOTSTRAP:-kafka:9092}"
PARTITIONS="${PARTITIONS:-6}"
REPLICATION_FACTOR="${REPLICATION_FACTOR:-1}"
MIN_INSYNC_REPLICAS="${MIN_INSYNC_REPLICAS:-1}"
RETENTION_MS="${RETENTION_MS:-1209600000}"
DLQ_RETENTION_MS="${DLQ_RETENTION_MS:-7776000000}"
PREFIX="${TABS_TOPIC_PREFIX:-}"
KAFKA_TOPICS="${KAFKA_TOPICS:-/opt/kafka/bin/kafka-topics.sh}"

client=(--bootstrap-server "$BOOTSTRAP")
if [[ -n "${COMMAND_CONFIG:-}" ]]; then
  client+=(--command-config "$COMMAND_CONFIG")
fi

# The contract's topics, and those a Tabs worker consumes (each has a dead-letter topic).
topics=(
  pos.sales.v1 credit.decisions.v1 accounts.commands.v1 accounts.events.v1
  crm.customers.v1 crm.loyalty.v1 statements.requests.v1 statements.sent.v1
)
consumed=(pos.sales.v1 accounts.commands.v1 accounts.events.v1 crm.customers.v1 statements.requests.v1)

create() { # name retention_ms
  "$KAFKA_TOPICS" "${client[@]}" --create --if-not-exists --topic "$1" \
    --partitions "$PARTITIONS" --replication-factor "$REPLICATION_FACTOR" \
    --config "min.insync.replicas=$MIN_INSYNC_REPLICAS" --config "retention.ms=$2"
}

wanted=()
for topic in "${topics[@]}"; do
  create "$PREFIX$topic" "$RETENTION_MS"
  wanted+=("$PREFIX$topic")
done
for topic in "${consumed[@]}"; do
  create "$PREFIX$topic.dlq" "$DLQ_RETENTION_MS"
  wanted+=("$PREFIX$topic.dlq")
done

# --if-not-exists leaves an existing topic as it is: catch one made with another count (e.g. by
# a worker with a different TOPIC_PARTITIONS) before the workers start on it.
described="$("$KAFKA_TOPICS" "${client[@]}" --describe)"
failed=0
for topic in "${wanted[@]}"; do
  count="$(printf '%s\n' "$described" | awk -v t="$topic" '
    { for (i = 1; i < NF; i++) if ($i == "Topic:" && $(i + 1) == t) found = 1 }
    found { for (i = 1; i < NF; i++) if ($i == "PartitionCount:") { print $(i + 1); exit } }')"
  if [[ "$count" != "$PARTITIONS" ]]; then
    echo "topic $topic has ${count:-no} partitions, expected $PARTITIONS" >&2
    failed=1
  fi
done
if [[ "$failed" -ne 0 ]]; then
  exit 1
fi
echo "all ${#wanted[@]} topics present with $PARTITIONS partitions"
