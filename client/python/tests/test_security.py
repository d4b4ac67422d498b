"""The client against an embedded kg_server serving TLS and requiring bearer tokens
(--tls_cert, --auth_tokens), and one that also requires client certificates
(--tls_client_ca): certificates made with openssl (conftest.Certificates)."""
import secrets

import grpc
import pytest

from conftest import Certificates, Cluster, assert_fails_within, write_token_file
from kgclient import KgClient, KgError, TlsOptions, entity

TOKENS = {role: secrets.token_urlsafe(32) for role in ("read", "write", "admin")}
DEADLINE_S = 3.0


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Certificates(str(tmp_path_factory.mktemp("pki")))


def start(pki, *flags):
    tokens = write_token_file(f"{pki.dir}/tokens.txt", {t: r for r, t in TOKENS.items()})
    return Cluster("embedded", [f"--tls_cert={pki.server[0]}", f"--tls_key={pki.server[1]}",
                                f"--auth_tokens={tokens}", *flags], partitions=2)


@pytest.fixture(scope="module")
def tls_server(pki):
    c = start(pki)
    yield c
    c.stop()


@pytest.fixture(scope="module")
def mtls_server(pki):
    c = start(pki, f"--tls_client_ca={pki.ca[0]}")
    yield c
    c.stop()


@pytest.fixture(autouse=True)
def no_kg_token(monkeypatch):
    monkeypatch.delenv("KG_TOKEN", raising=False)


def tls(root, cert=None, server_name=None) -> TlsOptions:
    """Trusting the CA certificate `root`, presenting `cert` (a (certificate, key) pair)."""
    return TlsOptions(root_certificates=root, certificate_chain=cert and cert[0],
                      private_key=cert and cert[1], server_name=server_name)


def client(server, tls_options, **options) -> KgClient:
    return KgClient(server.address, deadline_s=DEADLINE_S, tls=tls_options, **options)


def refusal(call) -> KgError:
    with pytest.raises(KgError) as e:
        call()
    return e.value


def test_a_write_token_over_tls_writes_and_reads_back(pki, tls_server):
    with client(tls_server, tls(pki.ca[0]), token=TOKENS["write"]) as kg:
        assert kg.upsert_entities([entity("PRODUCT:9001", "TLS shoe")]) == 1
        assert kg.get_entities(["PRODUCT:9001"])[0].name == "TLS shoe"
        resp = kg.import_records([entity("PRODUCT:9002", "imported")])
        assert resp.entities_upserted == 1
    # PEM bytes instead of a path, and the server's other name checked instead of its IP.
    with open(pki.ca[0], "rb") as f:
        ca = f.read()
    with client(tls_server, tls(ca, server_name=pki.SERVER_NAME), token=TOKENS["read"]) as kg:
        assert [e.name for e in kg.get_entities(["PRODUCT:9001", "PRODUCT:9002"])] == \
            ["TLS shoe", "imported"]


def test_without_a_known_token_calls_are_unauthenticated(pki, tls_server):
    for token in ("", "not-a-known-token"):
        with client(tls_server, tls(pki.ca[0]), token=token) as kg:
            assert kg.health() == "SERVING"  # health needs no token
            error = refusal(lambda: kg.get_entities(["PRODUCT:1"]))
            assert error.code == grpc.StatusCode.UNAUTHENTICATED, token
            assert error.method == "/kg.v1.GraphService/GetEntities" and error.message
            error = refusal(lambda: kg.import_records([entity("PRODUCT:1", "x")]))
            assert error.code == grpc.StatusCode.UNAUTHENTICATED, token


def test_a_role_too_low_is_permission_denied(pki, tls_server):
    with client(tls_server, tls(pki.ca[0]), token=TOKENS["read"]) as kg:
        assert kg.get_entities(["PRODUCT:9101"]) == [None]  # reading is allowed
        for write in (lambda: kg.upsert_entities([entity("PRODUCT:9101", "no")]),
                      lambda: kg.delete_entities(["PRODUCT:9101"]),
                      lambda: kg.import_records([entity("PRODUCT:9101", "no")])):
            assert refusal(write).code == grpc.StatusCode.PERMISSION_DENIED
    with client(tls_server, tls(pki.ca[0]), token=TOKENS["write"]) as kg:
        assert refusal(kg.train_models).code == grpc.StatusCode.PERMISSION_DENIED  # admin's
    with client(tls_server, tls(pki.ca[0]), token=TOKENS["read"]) as kg:
        assert kg.get_entities(["PRODUCT:9101"]) == [None]  # nothing was written


def test_kg_token_from_the_environment(pki, tls_server, monkeypatch):
    monkeypatch.setenv("KG_TOKEN", TOKENS["write"])
    with client(tls_server, tls(pki.ca[0])) as kg:
        assert kg.upsert_entities([entity("PRODUCT:9201", "from env")]) == 1
    # A token given to the client wins over KG_TOKEN; "" sends none.
    with client(tls_server, tls(pki.ca[0]), token=TOKENS["read"]) as kg:
        error = refusal(lambda: kg.upsert_entities([entity("PRODUCT:9201", "no")]))
        assert error.code == grpc.StatusCode.PERMISSION_DENIED
    with client(tls_server, tls(pki.ca[0]), token="") as kg:
        assert refusal(lambda: kg.get_entities(["PRODUCT:9201"])).code == \
            grpc.StatusCode.UNAUTHENTICATED
    monkeypatch.setenv("KG_TOKEN", TOKENS["write"] + "\n")
    with pytest.raises(ValueError, match="^KG_TOKEN: ") as e:
        client(tls_server, tls(pki.ca[0]))
    assert TOKENS["write"] not in str(e.value)


def test_a_server_the_client_does_not_trust_is_unavailable(pki, tls_server):
    for untrusting in (tls(pki.rogue_ca[0]), tls(pki.ca[0], server_name="other.test")):
        error = assert_fails_within(tls_server.address, DEADLINE_S, lambda kg: kg.health(),
                                    tls=untrusting, token=TOKENS["write"])
        assert error.code == grpc.StatusCode.UNAVAILABLE
    # Plain text to a TLS port fails too.
    error = assert_fails_within(tls_server.address, DEADLINE_S,
                                lambda kg: kg.get_entities(["PRODUCT:1"]), token=TOKENS["read"])
    assert error.code == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_needs_a_client_certificate_from_the_servers_ca(pki, mtls_server):
    with client(mtls_server, tls(pki.ca[0], pki.client), token=TOKENS["write"]) as kg:
        assert kg.upsert_entities([entity("PRODUCT:9301", "mTLS shoe")]) == 1
        assert kg.get_entities(["PRODUCT:9301"])[0].name == "mTLS shoe"
    for cert in (None, pki.rogue_client):
        error = assert_fails_within(mtls_server.address, DEADLINE_S,
                                    lambda kg: kg.get_entities(["PRODUCT:9301"]),
                                    tls=tls(pki.ca[0], cert), token=TOKENS["write"])
        assert error.code == grpc.StatusCode.UNAVAILABLE, cert
