#!/usr/bin/env python3
"""Cross-checks of the rendered deployment manifests that schema validation cannot make.

    manifests.py rbac KUSTOMIZE.yaml HELM.yaml...   the chart's ClusterRole rules equal the
                                                    kustomize ones (same watched kinds)
    manifests.py ports RENDERED.yaml...             every ServiceMonitor endpoint names a port
                                                    of a Service it selects
    manifests.py config RENDERED.yaml OUT           writes the forewarn.yaml of the chart's
                                                    ConfigMap to OUT (for `forewarn check`)
    manifests.py scopes README.md MANIFEST.yaml...  the Slack app manifests ask for the same bot
                                                    scopes, and README.md lists each of them

Exits 1 with a message on the first mismatch. Uses PyYAML (installed with kubernetes-validate).
"""

import sys

import yaml


def docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def of_kind(objects, kind):
    return [d for d in objects if d.get("kind") == kind]


def fail(message):
    print(f"manifests.py: {message}", file=sys.stderr)
    sys.exit(1)


def rules(path):
    roles = of_kind(docs(path), "ClusterRole")
    if len(roles) != 1:
        fail(f"{path}: expected one ClusterRole, found {len(roles)}")
    return sorted(
        (tuple(r.get("apiGroups", [])), tuple(sorted(r.get("resources", []))),
         tuple(sorted(r.get("verbs", []))), tuple(sorted(r.get("resourceNames", []))))
        for r in roles[0].get("rules", [])
    )


def check_rbac(kustomize, charts):
    want = rules(kustomize)
    for chart in charts:
        if rules(chart) != want:
            fail(f"the ClusterRole rules in {chart} differ from {kustomize}; keep them identical")


def check_ports(paths):
    for path in paths:
        objects = docs(path)
        services = of_kind(objects, "Service")
        for monitor in of_kind(objects, "ServiceMonitor"):
            selector = monitor["spec"]["selector"].get("matchLabels", {})
            selected = [s for s in services
                        if selector.items() <= s["metadata"].get("labels", {}).items()]
            if not selected:
                fail(f"{path}: ServiceMonitor {monitor['metadata']['name']} selects no Service")
            names = {p.get("name") for s in selected for p in s["spec"]["ports"]}
            for endpoint in monitor["spec"]["endpoints"]:
                if endpoint.get("port") not in names:
                    fail(f"{path}: ServiceMonitor port {endpoint.get('port')!r} is not one of "
                         f"the Service's ports {sorted(names)}")


def write_config(path, out):
    maps = [m for m in of_kind(docs(path), "ConfigMap") if "forewarn.yaml" in m.get("data", {})]
    if len(maps) != 1:
        fail(f"{path}: expected one ConfigMap with forewarn.yaml, found {len(maps)}")
    with open(out, "w", encoding="utf-8") as f:
        f.write(maps[0]["data"]["forewarn.yaml"])


def check_scopes(readme, manifests):
    lists = {}
    for path in manifests:
        with open(path, encoding="utf-8") as f:
            lists[path] = yaml.safe_load(f)["oauth_config"]["scopes"]["bot"]
    first, *rest = manifests
    for path in rest:
        if sorted(lists[path]) != sorted(lists[first]):
            fail(f"the bot scopes of {path} differ from those of {first}")
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    missing = [scope for scope in lists[first] if f"`{scope}`" not in text]
    if missing:
        fail(f"{readme} does not list the bot scopes {missing} of {first}")


def main(argv):
    if len(argv) >= 3 and argv[0] == "rbac":
        check_rbac(argv[1], argv[2:])
    elif len(argv) >= 2 and argv[0] == "ports":
        check_ports(argv[1:])
    elif len(argv) >= 3 and argv[0] == "scopes":
        check_scopes(argv[1], argv[2:])
    elif len(argv) == 3 and argv[0] == "config":
        write_config(argv[1], argv[2])
    else:
        fail(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
