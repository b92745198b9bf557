"""Seeds a Milvus server for tests, as a spec (JSON, see test/support/milvus-lite.ts) says.

Usage: seed_milvus.py HOST:PORT SPEC
"""

import json
import random
import sys

from pymilvus import DataType, MilvusClient

DIM = 8


def connect(address, database):
    return MilvusClient(uri=f"http://{address}", db_name=database)


def create(address, spec):
    database = spec.get("database", "default")
    admin = connect(address, "default")
    if database not in admin.list_databases():
        admin.create_database(database)
    client = connect(address, database)
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=DIM)
    name = spec["name"]
    client.create_collection(name, schema=schema)
    rows = [{"id": i, "vector": [random.random() for _ in range(DIM)]} for i in range(spec["rows"])]
    if rows:
        client.insert(name, rows)
    index = spec.get("index")
    if index:
        params = client.prepare_index_params()
        params.add_index(field_name="vector", index_type=index["type"], metric_type=index["metric"])
        client.create_index(name, params)
    # Milvus Lite loads a collection without an index by itself, and one with an index only on
    # request; ask for the state the spec wants either way.
    if spec.get("load", True):
        client.load_collection(name)
    else:
        client.release_collection(name)


def main():
    address, spec = sys.argv[1], json.loads(sys.argv[2])
    for collection in spec.get("create", []):
        create(address, collection)
    for target in spec.get("drop", []):
        connect(address, target.get("database", "default")).drop_collection(target["name"])
    for target in spec.get("delete", []):
        client = connect(address, target.get("database", "default"))
        client.delete(target["name"], filter=target["filter"])


if __name__ == "__main__":
    main()
