"""Python client of the e-commerce knowledge-graph service (kg.v1).

    from kgclient import KgClient
    with KgClient("127.0.0.1:50051") as kg:
        print(kg.get_entities(["PRODUCT:1"]))

See client/python/README.md. The generated messages and stubs are in `kgclient_proto`
(kgclient_proto.kg.v1.*_pb2, *_pb2_grpc).
"""
from kgclient.client import KgClient, RetryPolicy, TlsOptions
from kgclient.errors import KgCallsError, KgError, KgItemError
from kgclient.types import edge, entity, hop, key, key_text

__all__ = ["KgClient", "RetryPolicy", "TlsOptions", "KgCallsError", "KgError",
           "KgItemError", "edge", "entity", "hop", "key", "key_text"]
