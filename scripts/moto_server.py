#!/usr/bin/env python3
"""moto's server with IAM enforced the way AWS enforces it for the calls the
service makes. Started by scripts/lib/moto.sh; arguments are moto_server's:

    python scripts/moto_server.py -H 127.0.0.1 -p 5000

Two changes to moto (5.2.x), nothing else:

1. Resource matching. With enforcement on, moto checks each request's
   signature and the caller's own IAM policies, but matches DynamoDB and
   Secrets Manager actions against the resource "*" only, so a policy scoped
   to ARNs, like every policy of template.yaml, is denied everything. Here the
   resource is the ARN AWS evaluates:
     - DynamoDB: arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE, and
       .../table/TABLE/index/INDEX for a Query or Scan of an index;
     - Secrets Manager: the secret's ARN (name plus its random suffix) when it
       exists, else arn:...:secret:NAME-?????? (a CreateSecret, or a secret
       that is gone: AWS too answers AccessDenied before ResourceNotFound);
     - EventBridge PutEvents: arn:aws:events:REGION:ACCOUNT:event-bus/BUS of
       its entries' bus (default when they name none).
2. The account root. Requests signed with the access key in
   DCR_MOTO_ROOT_ACCESS_KEY (default "test", the tests' static key) are the
   account's root user: allowed everything, as on AWS. Every other caller
   (the functions, with credentials of a role they assumed through STS) is
   checked: signature, session token, and its role's policies. A
   TransactWriteItems is checked as AWS does, item by item as the write it
   is (PutItem, UpdateItem, ...): IAM has no action of its own for it.

3. Atomic conditional writes. moto's DynamoDB evaluates a write's condition
   and applies the write without a lock, so two concurrent conditional
   UpdateItems can both pass the same `version = :expected`; DynamoDB applies
   each conditional write atomically. Here every DynamoDB write (a
   TransactWriteItems as a whole) holds one lock.

Not checked, here as in moto: IAM condition keys (kms:ViaService and the
like), KMS (moto's Secrets Manager and DynamoDB never call KMS), the implied
permissions of an action (secretsmanager:TagResource for a CreateSecret with
tags), resource policies, permission boundaries and SCPs.
"""

import json
import os
import sys

# Enforcement from the first request (moto's default lets every request through).
os.environ.setdefault("INITIAL_NO_AUTH_ACTION_COUNT", "0")
ROOT_ACCESS_KEY = os.environ.get("DCR_MOTO_ROOT_ACCESS_KEY", "test")

from moto.core.authorization import ActionAuthenticatorMixin  # noqa: E402
import threading  # noqa: E402

from moto.dynamodb.models import DynamoDBBackend  # noqa: E402
from moto.dynamodb.responses import DynamoHandler  # noqa: E402
from moto.events.responses import EventsHandler  # noqa: E402
from moto.secretsmanager.models import secretsmanager_backends  # noqa: E402
from moto.secretsmanager.responses import SecretsManagerResponse  # noqa: E402
from moto.server import main  # noqa: E402
from moto.utilities.utils import get_partition  # noqa: E402


def _access_key(headers):
    """The access key id of a SigV4 Authorization header, or None."""
    auth = headers.get("Authorization") or ""
    marker = "Credential="
    if marker not in auth:
        return None
    return auth.split(marker, 1)[1].split("/", 1)[0]


_authorize = ActionAuthenticatorMixin._authenticate_and_authorize_action


# IAM has no TransactWriteItems action: AWS authorises each item of the
# transaction as the write it is, on its own table.
_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def _authorize_transaction(self, iam_request_cls):
    partition = get_partition(self.region)
    try:
        for item in _json_body(self).get("TransactItems") or []:
            for kind, action in _TRANSACT_ACTIONS.items():
                if kind not in item:
                    continue
                table = item[kind].get("TableName", "")
                arn = f"arn:{partition}:dynamodb:{self.region}:{self.current_account}:table/{table}"
                self._get_action = lambda action=action: action
                _authorize(self, iam_request_cls, arn)
    finally:
        self.__dict__.pop("_get_action", None)


def _authorize_unless_root(self, iam_request_cls, resource="*"):
    if _access_key(self.headers) == ROOT_ACCESS_KEY:
        return
    if isinstance(self, DynamoHandler) and self._get_action() == "TransactWriteItems":
        _authorize_transaction(self, iam_request_cls)
        return
    _authorize(self, iam_request_cls, resource)


def _json_body(handler):
    """The request's JSON members (DynamoDB's handler holds them parsed already)."""
    body = handler.body
    if isinstance(body, dict):
        return body
    try:
        parsed = json.loads(body or "{}")
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _dynamodb_resource(self):
    body = _json_body(self)
    table = body.get("TableName")
    if not table:
        return "*"
    arn = f"arn:{get_partition(self.region)}:dynamodb:{self.region}:{self.current_account}:table/{table}"
    index = body.get("IndexName")
    return f"{arn}/index/{index}" if index else arn


def _secret_resource(self):
    body = _json_body(self)
    secret_id = body.get("SecretId") or body.get("Name")
    if not secret_id:
        return "*"
    secrets = secretsmanager_backends[self.current_account][self.region].secrets
    if secret_id in secrets:
        return secrets[secret_id].arn
    if secret_id.startswith("arn:"):
        return secret_id
    partition = get_partition(self.region)
    return f"arn:{partition}:secretsmanager:{self.region}:{self.current_account}:secret:{secret_id}-??????"


def _events_resource(self):
    entries = _json_body(self).get("Entries") or [{}]
    first = entries[0] if isinstance(entries[0], dict) else {}
    bus = first.get("EventBusName") or "default"
    if bus.startswith("arn:"):
        return bus
    partition = get_partition(self.region)
    return f"arn:{partition}:events:{self.region}:{self.current_account}:event-bus/{bus}"


# Re-entrant: moto's transact_write_items applies its items through put_item,
# update_item and delete_item, which take the lock again.
_WRITE_LOCK = threading.RLock()


def _atomic(write):
    def locked(self, *args, **kwargs):
        with _WRITE_LOCK:
            return write(self, *args, **kwargs)

    return locked


for _name in ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item"):
    if hasattr(DynamoDBBackend, _name):
        setattr(DynamoDBBackend, _name, _atomic(getattr(DynamoDBBackend, _name)))

ActionAuthenticatorMixin._authenticate_and_authorize_action = _authorize_unless_root
DynamoHandler._determine_resource = _dynamodb_resource
SecretsManagerResponse._determine_resource = _secret_resource
EventsHandler._determine_resource = _events_resource

if __name__ == "__main__":
    sys.exit(main())
