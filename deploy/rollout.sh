#!/usr/bin/env bash
# Rolls out a Lookout image on Kubernetes: migrate, roll every Deployment,
# gate on /readyz; on any failure, roll back (rollback.sh).
#   deploy/rollout.sh IMAGE [NAMESPACE]
set -euo pipefail
IMAGE="${1:?usage: rollout.sh IMAGE [NAMESPACE]}"
NS="${2:-default}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
K=(kubectl -n "$NS")
DEPLOYMENTS=(lookout-api lookout-ops lookout-detect-cpu lookout-detect-gpu)

# What the rollback needs: the migration level before this release.
before="$("${K[@]}" exec deploy/lookout-api -- node -e "
  const pg=require('pg');const c=new pg.Client({connectionString:process.env.DATABASE_URL});
  c.connect().then(()=>c.query('SELECT count(*)::int AS n FROM lookout_migrations')).then(r=>{console.log(r.rows[0].n);return c.end()})" 2>/dev/null || echo unknown)"
echo "rollout: migrations applied before: $before"

fail() {
  echo "rollout: $1; rolling back" >&2
  "$HERE/rollback.sh" "$NS" "$before" "$IMAGE"
  exit 1
}

"${K[@]}" delete job lookout-migrate --ignore-not-found
sed "s#image: .*#image: $IMAGE#" "$HERE/k8s/migrate-job.yaml" | "${K[@]}" apply -f -
"${K[@]}" wait --for=condition=complete --timeout=600s job/lookout-migrate || fail "migration job did not complete"

for d in "${DEPLOYMENTS[@]}"; do
  "${K[@]}" get deploy "$d" >/dev/null 2>&1 || continue
  container="$("${K[@]}" get deploy "$d" -o jsonpath='{.spec.template.spec.containers[0].name}')"
  image="$IMAGE"
  [[ "$d" == *gpu* ]] && image="${IMAGE}-cuda"
  "${K[@]}" set image "deploy/$d" "$container=$image"
done
for d in "${DEPLOYMENTS[@]}"; do
  "${K[@]}" get deploy "$d" >/dev/null 2>&1 || continue
  "${K[@]}" rollout status "deploy/$d" --timeout=600s || fail "$d did not become ready"
done

# The gate: the new API answers /readyz (Redis, Postgres, migrations).
"${K[@]}" exec deploy/lookout-api -- node -e "
  fetch('http://127.0.0.1:3000/readyz').then(async r=>{console.log(await r.text());process.exit(r.ok?0:1)},()=>process.exit(1))" \
  || fail "/readyz is not ready"
echo "rollout: $IMAGE is live"
