#!/usr/bin/env bash
# Packages every splitwatch service with `serverless package`, one after the other, offline and without AWS
# credentials (CloudFormation templates and Lambda zips under apps/<service>/.serverless/).
#
#   tools/scripts/package-all.sh            # stage dev
#   STAGE=prod tools/scripts/package-all.sh
#
# Every service is packaged even when one fails, so one run shows all failures; the exit status is non-zero
# when any failed. Services are packaged on their own (not through serverless-compose): compose resolves
# ${platform.…} outputs only against deployed stacks, and each serverless.yml has offline defaults instead.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SLS="$ROOT/node_modules/.bin/serverless"
STAGE="${STAGE:-dev}"
# Deploy order: the data platform, the function services, then the pipeline that imports their ARNs.
SERVICES=(platform ingest feature-builder detectors sink reporting pipeline)

export SLS_TELEMETRY_DISABLED=1

if [[ ! -x "$SLS" ]]; then
  echo "package-all: $SLS not found; run npm ci first" >&2
  exit 2
fi

now_ms() { date +%s%3N; }

failed=()
summary=()
total_start=$(now_ms)
for service in "${SERVICES[@]}"; do
  log="$(mktemp)"
  start=$(now_ms)
  echo "==> $service (stage $STAGE)"
  if (cd "$ROOT/apps/$service" && "$SLS" package --stage "$STAGE") >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed+=("$service")
    cat "$log" >&2
  fi
  elapsed=$(( $(now_ms) - start ))
  rm -f "$log"
  line=$(printf '%-16s %-7s %6d.%01ds' "$service" "$status" $((elapsed / 1000)) $(((elapsed % 1000) / 100)))
  summary+=("$line")
  echo "    $line"
done
total=$(( $(now_ms) - total_start ))

echo
echo "serverless package, stage $STAGE"
printf '%s\n' "${summary[@]}"
printf '%-16s %-7s %6d.%01ds\n' total "" $((total / 1000)) $(((total % 1000) / 100))

if (( ${#failed[@]} > 0 )); then
  echo "package-all: failed: ${failed[*]}" >&2
  exit 1
fi
