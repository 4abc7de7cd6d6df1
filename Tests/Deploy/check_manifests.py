"""Offline checks of Deploy/: the Kubernetes manifests, the compose file and the Containerfile,
which cannot be applied or built where the tests run. Run by the Swift test `DeployTests`:

    python check_manifests.py DEPLOY_DIR

Prints the failures as JSON and exits 1 if there are any.
"""
import json
import os
import re
import sys

import yaml

deploy = sys.argv[1]
failures = []


def check(condition, what):
    if not condition:
        failures.append(what)


def documents(name):
    with open(os.path.join(deploy, name)) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


# Kubernetes: every document is a named object of a known kind.
objects = {}
for name in ["kubernetes/database.yaml", "kubernetes/reach.yaml"]:
    for doc in documents(name):
        kind, meta = doc.get("kind"), doc.get("metadata") or {}
        check(doc.get("apiVersion") and kind and meta.get("name"), "%s: a document lacks apiVersion, kind or metadata.name: %s" % (name, doc))
        check(kind == "Namespace" or meta.get("namespace") == "reach", "%s: %s %s is not in the namespace reach" % (name, kind, meta.get("name")))
        objects[(kind, meta.get("name"))] = doc

known = {("Namespace", "v1"), ("Job", "batch/v1"), ("Deployment", "apps/v1"), ("Service", "v1"), ("Cluster", "postgresql.cnpg.io/v1"),
         ("ScheduledBackup", "postgresql.cnpg.io/v1"), ("ObjectStore", "barmancloud.cnpg.io/v1")}
for (kind, name), doc in objects.items():
    check((kind, doc["apiVersion"]) in known, "%s %s has an unexpected apiVersion %s" % (kind, name, doc["apiVersion"]))

cluster = objects.get(("Cluster", "reach-db"), {}).get("spec", {})
check(cluster.get("instances", 0) >= 2, "the database Cluster has a replica to fail over to")
check("barmanObjectStore" not in (cluster.get("backup") or {}), "the Cluster does not use the deprecated barmanObjectStore")
plugins = cluster.get("plugins") or []
check(any(p.get("name") == "barman-cloud.cloudnative-pg.io" and p.get("isWALArchiver") and
          (p.get("parameters") or {}).get("barmanObjectName") in {n for (k, n) in objects if k == "ObjectStore"} for p in plugins),
      "the Cluster archives WAL through the Barman Cloud plugin, to an ObjectStore defined here")
backup = objects.get(("ScheduledBackup", "reach-db-nightly"), {}).get("spec", {})
check(backup.get("method") == "plugin" and (backup.get("pluginConfiguration") or {}).get("name") == "barman-cloud.cloudnative-pg.io"
      and (backup.get("cluster") or {}).get("name") == "reach-db", "the nightly backup is the plugin's, of reach-db")
check(len((backup.get("schedule") or "").split()) == 6, "the backup's schedule has six fields (seconds first)")

deployment = objects.get(("Deployment", "reach"), {}).get("spec", {})
pod = (deployment.get("template") or {}).get("spec", {})
container = (pod.get("containers") or [{}])[0]
check((container.get("readinessProbe") or {}).get("httpGet", {}).get("path") == "/health/ready", "readiness is probed on /health/ready")
check((container.get("livenessProbe") or {}).get("httpGet", {}).get("path") == "/health/live", "liveness is probed on /health/live")
check((pod.get("securityContext") or {}).get("runAsNonRoot") is True, "the pods run as a user that is not root")
check((container.get("securityContext") or {}).get("readOnlyRootFilesystem") is True, "the root file system is read-only")
check((container.get("securityContext") or {}).get("capabilities", {}).get("drop") == ["ALL"], "every capability is dropped")
check(pod.get("terminationGracePeriodSeconds", 30) >= 35, "pods get time to finish requests in flight on SIGTERM")
env = {e["name"]: e for e in container.get("env") or []}
check("reach-db-rw" in env.get("REACH_DATABASE_URL", {}).get("value", ""), "the service writes through reach-db-rw")
check("reach-db-ro" in env.get("REACH_READ_DATABASE_URL", {}).get("value", ""), "researchers' reads go through reach-db-ro")
check(all("value" not in e or "PASSWORD" not in name for name, e in env.items()), "no password is written in the manifest")
service = objects.get(("Service", "reach"), {}).get("spec", {})
check(service.get("selector") == (deployment.get("selector") or {}).get("matchLabels"), "the Service selects the Deployment's pods")

# compose: the migration runs before the service, which drops every capability.
compose = documents("compose.yaml")[0]
services = compose.get("services") or {}
check(set(services) == {"db", "migrate", "reach"}, "compose runs db, migrate and reach: %s" % sorted(services))
check(((services.get("reach") or {}).get("depends_on") or {}).get("migrate", {}).get("condition") == "service_completed_successfully",
      "reach starts once the migration has finished")
check((services.get("reach") or {}).get("cap_drop") == ["ALL"], "reach drops every capability")
check("POSTGRES_PASSWORD" not in ((services.get("db") or {}).get("environment") or {}), "the database's password is kept in a file")

# The Containerfile: two stages, libpq5, a user that is not root, no floating tags.
text = open(os.path.join(deploy, "Containerfile")).read()
stages = re.findall(r"^FROM\s+(\S+)", text, re.M)
check(len(stages) == 2, "the Containerfile has two stages")
check(all(not s.endswith(":latest") and ":" in s for s in stages), "base images are named with a tag other than latest: %s" % stages)
check("libpq5" in text, "the run stage installs libpq5")
users = re.findall(r"^USER\s+(\S+)", text, re.M)
check(users and not users[-1].startswith("0") and users[-1] != "root", "the image runs as a user that is not root")

print(json.dumps(failures))
sys.exit(1 if failures else 0)
