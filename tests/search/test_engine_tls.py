"""A cluster with TLS is verified against the operator's CA (CREDITREG_SEARCH_CA_CERTS).

The clients connect lazily, so what they will verify against is read from the connection
each one built: no request is made and no server answers."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from config import ConfigError, load_settings
from search.backends import create_backend

URL = "https://creditreg:search-pass@search-1.registry.internal:9200"


@pytest.fixture(scope="module")
def ca_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real CA certificate in PEM, as an operator's own CA would give."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "registry search CA")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path_factory.mktemp("ca") / "search-ca.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def backend_for(kind: str, ca_certs: Path | None = None):
    environ = {"CREDITREG_SEARCH_BACKEND": kind, "CREDITREG_SEARCH_URL": URL}
    if ca_certs is not None:
        environ["CREDITREG_SEARCH_CA_CERTS"] = str(ca_certs)
    settings = load_settings("test", environ=environ)

    def no_database():
        raise AssertionError("an engine backend needs no database")

    return create_backend(settings, no_database)


def tls_pool(backend):
    """The urllib3 pool of the client's one connection: where it connects, what it checks."""
    if backend.name == "opensearch":
        (connection,) = backend.client.transport.connection_pool.connections
        return connection.pool
    (node,) = backend.client.transport.node_pool.all()
    return node.pool


@pytest.mark.parametrize("kind", ["opensearch", "elasticsearch"])
def test_a_tls_url_with_the_setting_verifies_against_the_operators_ca(kind, ca_bundle):
    backend = backend_for(kind, ca_bundle)
    try:
        pool = tls_pool(backend)
        assert pool.scheme == "https"
        assert pool.host == "search-1.registry.internal"
        assert pool.ca_certs == str(ca_bundle)
        assert pool.cert_reqs in ("CERT_REQUIRED", 2)  # ssl.CERT_REQUIRED, by name or value
    finally:
        backend.close()


@pytest.mark.parametrize("kind", ["opensearch", "elasticsearch"])
def test_without_the_setting_the_clients_keep_their_usual_cas(kind, ca_bundle):
    backend = backend_for(kind)
    try:
        pool = tls_pool(backend)
        assert pool.scheme == "https"
        assert pool.ca_certs != str(ca_bundle)
        assert pool.cert_reqs in ("CERT_REQUIRED", 2, None)  # None: urllib3 requires by default
    finally:
        backend.close()


def test_a_missing_bundle_is_refused_at_the_start(tmp_path):
    missing = tmp_path / "nowhere.pem"
    with pytest.raises(ConfigError, match="CREDITREG_SEARCH_CA_CERTS: no file at"):
        backend_for("opensearch", missing)


def test_a_bundle_with_a_plain_http_url_is_refused(ca_bundle):
    environ = {
        "CREDITREG_SEARCH_BACKEND": "elasticsearch",
        "CREDITREG_SEARCH_URL": "http://search:9200",
        "CREDITREG_SEARCH_CA_CERTS": str(ca_bundle),
    }
    with pytest.raises(ConfigError, match="CREDITREG_SEARCH_URL is not https://"):
        load_settings("test", environ=environ)


def test_the_embedded_backend_ignores_the_setting(tmp_path):
    # Set ahead of a move to an engine, it does not stop the SQL registry from starting.
    environ = {"CREDITREG_SEARCH_CA_CERTS": str(tmp_path / "not-yet.pem")}
    assert load_settings("test", environ=environ).SEARCH_BACKEND == "sql"
