#!/usr/bin/env python3
"""Creates the clients table on an emulator from template.yaml's own
definition of ClientsTable (its only one): attributes, key, indexes, TTL.

Usage: python scripts/create_table.py ENDPOINT_URL TABLE_NAME

Idempotent: an existing table of that name is left as it is.
"""

import os
import sys
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")

import boto3  # noqa: E402

import sam_transform  # noqa: E402

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"


def main(endpoint, table):
    props = sam_transform.load_template(str(TEMPLATE))["Resources"]["ClientsTable"]["Properties"]
    ddb = boto3.client("dynamodb", endpoint_url=endpoint)
    if table in ddb.list_tables()["TableNames"]:
        print(f"table {table} exists")
        return 0
    ddb.create_table(
        TableName=table,
        BillingMode=props["BillingMode"],
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
    )
    ttl = props["TimeToLiveSpecification"]
    ddb.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": ttl["Enabled"], "AttributeName": ttl["AttributeName"]},
    )
    print(f"table {table} created from template.yaml")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
