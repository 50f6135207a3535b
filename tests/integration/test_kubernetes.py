"""deploy/kubernetes/*.yaml: what a cluster's API server would accept, and what a schema cannot say.

1. Every manifest passes kubernetes-validate (1.37 from PyPI, in the tools virtualenv tools/setup.sh creates)
   with --strict against the newest Kubernetes schema it bundles: an unknown or misspelled field fails. A
   mutated copy proves it.
2. Cross-object checks no schema expresses: selectors match the pod labels, the Service's targetPort is a
   container port, probes use a declared port, the socket is on the volume shared with the nginx sidecar, every
   mount has a volume, the grace period covers preStop + ESG's graceful timeout, the sidecar's nginx config
   proxies to that socket and `nginx -t` accepts it.
The pod itself is run in test_pod_rollout.py.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from deploy_support import REPO, need_program, nginx_prefix, nginx_test, tools_bin

K8S = REPO / "deploy" / "kubernetes"
MANIFESTS = sorted(K8S.glob("*.yaml"))


def load_yaml(path: Path) -> list:
    """The YAML documents of a file, parsed by the tools virtualenv's PyYAML (not an ESG dependency)."""
    code = "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))"
    proc = subprocess.run([tools_bin("python"), "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [d for d in json.loads(proc.stdout) if d]


def newest_schema() -> str:
    code = "from kubernetes_validate import utils; print(utils.latest_version())"
    proc = subprocess.run([tools_bin("python"), "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def validate(*paths: Path, strict: bool = True) -> subprocess.CompletedProcess:
    version = newest_schema()
    assert tuple(map(int, version.split(".")[:2])) >= (1, 37), f"kubernetes-validate bundles only {version}"
    argv = [tools_bin("kubernetes-validate"), "-k", version, *(["--strict"] if strict else []), *map(str, paths)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def test_manifests_pass_strict_schema_validation():
    assert {p.name for p in MANIFESTS} >= {"deployment.yaml", "service.yaml", "nginx-configmap.yaml"}
    proc = validate(*MANIFESTS)
    print(proc.stdout + proc.stderr)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for path in MANIFESTS:
        assert re.search(rf"{re.escape(str(path))} passed for resource", proc.stdout + proc.stderr), path


def test_misspelled_or_unknown_field_fails_validation(tmp_path):
    """--strict rejects a field the API does not have, wherever it is (a lenient check would let it pass and
    the cluster would drop it silently)."""
    text = (K8S / "deployment.yaml").read_text()
    mutations = {
        "periodSecond": ("periodSeconds: 5", "periodSecond: 5"),  # in readinessProbe
        "terminationGracePeriod": ("terminationGracePeriodSeconds:", "terminationGracePeriod:"),
        "mountpath": ("mountPath: /run/esg", "mountpath: /run/esg"),  # also misses a required field
    }
    for name, (good, bad) in mutations.items():
        assert good in text, good
        mutated = tmp_path / f"deployment-{name}.yaml"
        mutated.write_text(text.replace(good, bad, 1))
        proc = validate(mutated)
        assert proc.returncode != 0 and name in proc.stdout + proc.stderr, (name, proc.stdout + proc.stderr)
        if name != "mountpath":
            assert validate(mutated, strict=False).returncode == 0, "only --strict catches an unknown field"


def test_cross_object_checks(tmp_path):
    docs = {d["kind"]: d for f in MANIFESTS for d in load_yaml(f)}
    assert {"Deployment", "Service", "ConfigMap"} <= set(docs), sorted(docs)
    deployment, service = docs["Deployment"], docs["Service"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert service["spec"]["selector"].items() <= labels.items()
    pod = deployment["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    assert {"esg", "nginx"} <= set(containers)
    port_names = {p["name"] for c in containers.values() for p in c.get("ports", [])}
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in port_names, port
    esg = containers["esg"]
    args = esg["command"]
    assert "--uds" in args and "--proxy-headers" in args and "--forwarded-allow-ips" in args
    sock = args[args.index("--uds") + 1]
    graceful = int(args[args.index("--timeout-graceful-shutdown") + 1])
    for c in containers.values():
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            if probe in c:
                assert c[probe]["httpGet"]["port"] in port_names, (c["name"], probe)
    pre_stop = " ".join(esg["lifecycle"]["preStop"]["exec"]["command"])
    sleep = int(re.search(r"sleep (\d+)", pre_stop).group(1))
    assert "drain" in pre_stop
    assert pod["terminationGracePeriodSeconds"] >= graceful + sleep, "kubelet would SIGKILL mid-drain"
    mounts = {m["name"]: m["mountPath"] for c in containers.values() for m in c.get("volumeMounts", [])}
    assert sock.startswith(mounts["run"] + "/"), "the socket must be on the volume shared with nginx"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes["run"], "the socket volume is the pod's own"
    for c in containers.values():
        for m in c.get("volumeMounts", []):
            assert m["name"] in volumes, m
    assert volumes["nginx-conf"]["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"]
    # The sidecar's nginx config: same upstream socket, the port nginx listens on is the container port, and
    # nginx accepts it.
    nginx_conf = docs["ConfigMap"]["data"]["default.conf"]
    assert f"server unix:{sock}" in nginx_conf
    http_port = next(p["containerPort"] for p in containers["nginx"]["ports"] if p["name"] == "http")
    assert re.search(rf"listen {http_port};", nginx_conf)
    need_program("/usr/sbin/nginx")
    nginx_prefix(tmp_path / "nginx", nginx_conf)
    nginx_test(tmp_path / "nginx")
