#!/usr/bin/env bash
# Rolls Lookout back on Kubernetes. First the migrations applied since
# MIGRATIONS_BEFORE are reverted with their down steps, by a Job running the
# NEW image (only it knows those steps); then every Deployment goes back to
# its previous ReplicaSet.
#   deploy/rollback.sh [NAMESPACE] [MIGRATIONS_BEFORE] [NEW_IMAGE]
set -euo pipefail
NS="${1:-default}"
BEFORE="${2:-unknown}"
NEW_IMAGE="${3:-}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
K=(kubectl -n "$NS")
DEPLOYMENTS=(lookout-api lookout-ops lookout-detect-cpu lookout-detect-gpu)

count_migrations() {
  "${K[@]}" run "lookout-count-$RANDOM" --rm -i --restart=Never --image="$1" \
    --overrides='{"spec":{"containers":[{"name":"c","image":"'"$1"'","envFrom":[{"secretRef":{"name":"lookout-secrets"}}],"command":["node","-e","const pg=require(\"pg\");const c=new pg.Client({connectionString:process.env.DATABASE_URL});c.connect().then(()=>c.query(\"SELECT count(*)::int AS n FROM lookout_migrations\")).then(r=>{console.log(r.rows[0].n);return c.end()})"]}]}}' 2>/dev/null | tail -1
}

if [[ "$BEFORE" =~ ^[0-9]+$ && -n "$NEW_IMAGE" ]]; then
  now="$(count_migrations "$NEW_IMAGE")"
  steps=$(( now - BEFORE ))
  if (( steps > 0 )); then
    echo "rollback: reverting the last $steps migration(s) with $NEW_IMAGE"
    "${K[@]}" delete job lookout-migrate-down --ignore-not-found
    sed -e "s#image: .*#image: $NEW_IMAGE#" -e "s#name: lookout-migrate\$#name: lookout-migrate-down#" \
        -e "s#args: \[\"migrate\", \"up\"\]#args: [\"migrate\", \"down\", \"--steps\", \"$steps\"]#" \
        "$HERE/k8s/migrate-job.yaml" | "${K[@]}" apply -f -
    "${K[@]}" wait --for=condition=complete --timeout=600s job/lookout-migrate-down
  fi
else
  echo "rollback: migration level before the release or the new image unknown; migrations left as they are" >&2
fi

for d in "${DEPLOYMENTS[@]}"; do
  "${K[@]}" get deploy "$d" >/dev/null 2>&1 || continue
  "${K[@]}" rollout undo "deploy/$d"
done
for d in "${DEPLOYMENTS[@]}"; do
  "${K[@]}" get deploy "$d" >/dev/null 2>&1 || continue
  "${K[@]}" rollout status "deploy/$d" --timeout=600s
done
echo "rollback: done"
