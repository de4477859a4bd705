"""Fakes for `obsctl verify` tests and bench: a Kubernetes API server serving recorded
objects (with the service proxy and RBAC enforcement), a metrics exporter, a Grafana API,
and real Prometheus/Alertmanager processes."""

from verify_fakes.backends import Exporter, FakeGrafana, PromStack
from verify_fakes.cluster import build_cluster, write_kubeconfig
from verify_fakes.kube import FakeKube

__all__ = ["Exporter", "FakeGrafana", "FakeKube", "PromStack", "build_cluster", "write_kubeconfig"]
