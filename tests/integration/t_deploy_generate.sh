#!/usr/bin/env bash
# t_deploy_generate.sh - `pipelock-fw generate docker-compose|k8s|systemd`:
# the compose file parses and puts the agent only on an `internal: true`
# network (the engine on both, the agent's proxy variables at it); the k8s
# YAML parses, its ConfigMap holds the config verbatim, and its init
# container's exact command, then the engine sidecar's, run in a fresh
# namespace, give a state in which `verify` passes; the systemd unit is the
# shipped scripts/pipelock-fw.service and passes `systemd-analyze verify`.
set -eu
. tests/integration/lib.sh
. tests/integration/helpers/tproxy.sh

need_cmd systemd-analyze unshare dnsmasq
"$PY" -c 'import yaml' 2>/dev/null || fail "python3-yaml missing (run scripts/deps.sh)"
topo_up
plfw_ready || fail "$PLFW: 'firewall apply' / 'run' not available yet"
upstream_start
make_config "dns_servers: [\"$V4_UP\"]"

# --- docker-compose -----------------------------------------------------------
"$PLFW" generate docker-compose --agent claude --agent-uid 1234 >"$TEST_TMP/compose.yml"
"$PLFW" generate docker-compose --agent claude --agent-uid 1234 -o "$TEST_TMP/compose-o.yml"
cmp -s "$TEST_TMP/compose.yml" "$TEST_TMP/compose-o.yml" || fail "-o output differs from stdout"
"$PY" - "$TEST_TMP/compose.yml" <<'PYEOF' || fail "compose file checks failed"
import sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
nets, svc = d["networks"], d["services"]
def nl(s):
    n = s.get("networks", [])
    return list(n) if isinstance(n, (list, dict)) else []
agent = svc["claude"]
assert nl(agent), "agent has no network (the default network has a route out)"
for n in nl(agent):
    assert (nets[n] or {}).get("internal") is True, "agent on non-internal network %s" % n
eng = svc["pipelock-fw"]
assert any((nets[n] or {}).get("internal") is True for n in nl(eng)), "engine not on the internal network"
assert any(not (nets[n] or {}).get("internal") for n in nl(eng)), "engine has no egress network"
env = agent["environment"]
for k in ("HTTPS_PROXY", "HTTP_PROXY"):
    assert env[k] == "http://pipelock-fw:8888", "%s=%r" % (k, env[k])
assert agent["user"] == "1234:1234", agent["user"]
assert "0.0.0.0:8888" in eng["command"], eng["command"]
print("compose ok")
PYEOF

# --- k8s: parse, then run the init container's and sidecar's exact commands --
"$PLFW" generate k8s --agent claude --agent-uid "$AGENT_UID" --config "$PLFW_CONFIG" >"$TEST_TMP/pod.yaml"
"$PY" - "$TEST_TMP/pod.yaml" "$TEST_TMP" <<'PYEOF' || fail "k8s YAML checks failed"
import json, sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
cm = [d for d in docs if d["kind"] == "ConfigMap"][0]
pod = [d for d in docs if d["kind"] == "Pod"][0]
spec = pod["spec"]
inits = {c["name"]: c for c in spec["initContainers"]}
fw, eng = inits["pipelock-fw-firewall"], inits["pipelock-fw"]
assert spec["initContainers"][0]["name"] == "pipelock-fw-firewall", "firewall must run first"
assert eng.get("restartPolicy") == "Always", "engine is not a sidecar"
for c in (fw, eng):
    assert "NET_ADMIN" in c["securityContext"]["capabilities"]["add"], c["name"]
assert not spec.get("hostNetwork"), "hostNetwork would apply the rules to the node"
agent = spec["containers"][0]
sc = agent["securityContext"]
assert sc["runAsUser"] == 1000 and sc["allowPrivilegeEscalation"] is False
assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"]
# the config as the pod sees it, and the two commands, for the shell
key = list(cm["data"])[0]
open(sys.argv[2] + "/pod-config.yaml", "w").write(cm["data"][key])
mount = [m for m in fw["volumeMounts"] if m["name"] == "pipelock-fw-config"][0]["mountPath"]
open(sys.argv[2] + "/pod-config.path", "w").write(mount + "/" + key)
open(sys.argv[2] + "/init.cmd", "w").write("\0".join(fw["command"]))
open(sys.argv[2] + "/engine.cmd", "w").write("\0".join(eng["command"]))
print("k8s ok")
PYEOF
cmp -s "$TEST_TMP/pod-config.yaml" "$PLFW_CONFIG" || fail "the ConfigMap does not hold the config verbatim"
[[ $(cat "$TEST_TMP/pod-config.path") == "$PLFW_CONFIG" ]] || fail "the pod mounts the config elsewhere"
# `pipelock-fw` is looked up in PATH, as in the image
mkdir "$TEST_TMP/bin"
ln -s "$PLFW" "$TEST_TMP/bin/pipelock-fw"
mapfile -d '' init_cmd <"$TEST_TMP/init.cmd"
mapfile -d '' engine_cmd <"$TEST_TMP/engine.cmd"
log "init container: ${init_cmd[*]}"
in_host env PATH="$TEST_TMP/bin:$PATH" "${init_cmd[@]}" >/dev/null 2>"$TEST_TMP/init.err" ||
	fail "init container command failed: $(cat "$TEST_TMP/init.err")"
log "engine sidecar: ${engine_cmd[*]}"
ip netns exec "$HOST_NS" env PATH="$TEST_TMP/bin:$PATH" "${engine_cmd[@]}" \
	>>"$TEST_TMP/audit.log" 2>>"$TEST_TMP/engine.err" </dev/null &
ENGINE_PID=$!
wait_until 10 _engine_listening || fail "the sidecar's engine did not listen"
bg_start "$TEST_TMP/dnsmasq.err" ip netns exec "$NET_NS" dnsmasq --keep-in-foreground \
	--no-resolv --no-hosts --bind-interfaces --listen-address="$V4_UP2" --port=53 \
	--user=root --group=root --address=/#/"$V4_UP" --pid-file="$TEST_TMP/dnsmasq.pid"
wait_until 10 eval "in_net ss -Hlun 'sport = :53' | grep -q ." || fail "dnsmasq did not start"
rc=0
out=$(in_host "$PLFW" verify --as "$AGENT_UID" --config "$PLFW_CONFIG" --timeout 3 \
	--target allowed.test:80 --udp-probe "$V4_UP2:53" 2>&1) || rc=$?
printf '%s\n' "$out" >&2
((rc == 0)) || fail "verify after the pod's commands: rc=$rc"
engine_stop

# --- systemd ------------------------------------------------------------------
"$PLFW" generate systemd >"$TEST_TMP/pipelock-fw.service"
cmp -s "$TEST_TMP/pipelock-fw.service" scripts/pipelock-fw.service ||
	fail "scripts/pipelock-fw.service differs from \`generate systemd\` (regenerate it)"
"$PLFW" generate systemd --config /srv/agents/pipelock.yaml >"$TEST_TMP/other.service"
grep -qx 'ExecStart=/usr/local/sbin/pipelock-fw run --apply --config /srv/agents/pipelock.yaml' \
	"$TEST_TMP/other.service" || fail "--config not used in ExecStart"
grep -qx 'ExecStartPre=/usr/local/sbin/pipelock-fw firewall apply --config /srv/agents/pipelock.yaml' \
	"$TEST_TMP/other.service" || fail "--config not used in ExecStartPre"
for u in pipelock-fw.service other.service; do
	mkdir -p "$TEST_TMP/units"
	cp "$TEST_TMP/$u" "$TEST_TMP/units/pipelock-fw.service"
	# systemd-analyze wants the binary and the man pages it names to exist:
	# a private mount namespace gets them, the host's /usr/local stays as is
	# shellcheck disable=SC2016 # expanded by the inner sh
	out=$(unshare -m --propagation private sh -c '
		set -e
		mount -t tmpfs tmpfs /usr/local/sbin
		cp "$1" /usr/local/sbin/pipelock-fw
		mount -t tmpfs tmpfs /usr/local/share/man
		mkdir /usr/local/share/man/man8 /usr/local/share/man/man5
		cp man/pipelock-fw.8 /usr/local/share/man/man8/
		cp man/pipelock-fw.yaml.5 /usr/local/share/man/man5/
		systemd-analyze verify "$2"' sh "$PLFW" "$TEST_TMP/units/pipelock-fw.service" 2>&1) ||
		fail "systemd-analyze verify ($u): $out"
	[[ -z $out ]] || fail "systemd-analyze verify ($u) complained: $out"
done
grep -q '^Before=network-pre.target' scripts/pipelock-fw.service || fail "unit not ordered before network-pre.target"
grep -q '^MemoryDenyWriteExecute' scripts/pipelock-fw.service && fail "MemoryDenyWriteExecute breaks the PCRE2 JIT"

# --- logrotate: parses, and signals USR2, never USR1 --------------------------
need_cmd logrotate
out=$(logrotate -d -s "$TEST_TMP/logrotate.state" scripts/pipelock-fw.logrotate 2>&1) || fail "logrotate -d: $out"
grep -q 'SIGUSR2' scripts/pipelock-fw.logrotate || fail "logrotate snippet does not send SIGUSR2"
grep -v '^#' scripts/pipelock-fw.logrotate | grep -q 'USR1' && fail "logrotate snippet sends USR1 (the kill switch)"

# --- usage --------------------------------------------------------------------
rc=0; "$PLFW" generate k8s >/dev/null 2>&1 || rc=$?
((rc == 2)) || fail "generate k8s without --agent: rc=$rc, want 2"
rc=0; "$PLFW" generate docker-compose --agent 'Bad Name' >/dev/null 2>&1 || rc=$?
((rc == 2)) || fail "bad agent name: rc=$rc, want 2"
log "PASS t_deploy_generate"
