# Shared by Scripts/bench-api.sh and Scripts/bench-api-cold.sh (sourced).

# Starts "$cdnsd" pinned to core 0 on fresh ports with SQLite (or $engine)
# under $work/data, sets dns_port, api_port and pid, and waits for /health.
start_api_daemon() {
    dns_port=$(( 20000 + RANDOM % 10000 ))
    api_port=$(( dns_port + 1 ))
    CDNS_DNS_LISTEN="127.0.0.1:$dns_port" CDNS_API_LISTEN="127.0.0.1:$api_port" \
    CDNS_STORAGE_ENGINE="${engine:-sqlite}" CDNS_STORAGE_PATH="$work/data/cdnsd.sqlite" \
        taskset -c 0 "$cdnsd" serve >"$work/cdnsd.log" 2>&1 &
    pid=$!
    for _ in $(seq 200); do
        curl -sf "http://127.0.0.1:$api_port/health" >/dev/null 2>&1 && break
        sleep 0.05
    done
}

# Registers one account and writes $work/update.lua: a wrk script whose
# /update requests alternate between two values, as a wildcard plus apex
# order does. Sets account.
write_update_script() {
    account=$(curl -sf -X POST "http://127.0.0.1:$api_port/register")
    field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$account" "$1"; }
    cat >"$work/update.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Api-User"] = "$(field username)"
wrk.headers["X-Api-Key"] = "$(field password)"
local bodies = {
  '{"subdomain":"$(field subdomain)","txt":"$(printf 'a%.0s' $(seq 43))"}',
  '{"subdomain":"$(field subdomain)","txt":"$(printf 'b%.0s' $(seq 43))"}',
}
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[n % 2 + 1])
end
LUA
}
