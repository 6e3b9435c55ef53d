#!/usr/bin/env python3
"""KMS conformance checks with boto3 for what pipelines call beyond asymmetric keys: symmetric
encryption keys (encryption context, data keys, ReEncrypt, rotation), HMAC keys, data key pairs,
GenerateRandom, UpdateKeyDescription, grants, multi-Region keys and custom key stores.

Each check states what AWS KMS answers (KMS API reference; recorded answers where the message is
pinned) and runs it against the endpoint in AWS_ENDPOINT_URL_KMS / AWS_ENDPOINT_URL_STS with the
credentials in the environment (e.g. after `eval "$(kms-openssl serve --print-env)"`).
Prints one line per check, then `conformance: N passed, N failed`; exits 1 on any failure.

    .venv/bin/python interop-tests/kms_conformance.py
"""
import base64
import os
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization

ACCOUNT_ROLE = "arn:aws:iam::{account}:role/ConformanceGrantee"
results = []


def client(region="us-east-1", **creds):
    # No client-side validation: the server's own answers to out-of-range values are checked.
    return boto3.client("kms", region_name=region, config=Config(parameter_validation=False), **creds)


def check(name):
    def wrap(fn):
        try:
            fn()
            results.append((name, None))
        except Exception as e:  # noqa: BLE001 - a failed check is reported, never raised
            results.append((name, f"{type(e).__name__}: {e}"))
        return fn
    return wrap


def expect_error(code, call, *args, message=None, **kwargs):
    try:
        call(*args, **kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        assert got == code, f"expected {code}, got {got}: {e.response['Error'].get('Message')}"
        assert status == 400, f"expected HTTP 400, got {status}"
        if message is not None:
            got_message = e.response["Error"].get("Message", "")
            assert got_message == message, f"message {got_message!r} != {message!r}"
        return e
    raise AssertionError(f"expected {code}, the call succeeded")


kms = client()
sts = boto3.client("sts", region_name="us-east-1")
account = sts.get_caller_identity()["Account"]

sym = kms.create_key()["KeyMetadata"]
sym_id, sym_arn = sym["KeyId"], sym["Arn"]
other_sym = kms.create_key()["KeyMetadata"]["KeyId"]
rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["KeyId"]
sign_key = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
CTX = {"purpose": "conformance", "Tenant": "a"}


@check("symmetric: CreateKey defaults to SYMMETRIC_DEFAULT / ENCRYPT_DECRYPT with a material id")
def _():
    assert sym["KeySpec"] == "SYMMETRIC_DEFAULT" and sym["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert sym["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert len(sym["CurrentKeyMaterialId"]) == 64


@check("symmetric: Decrypt without KeyId, context in any order")
def _():
    ct = kms.encrypt(KeyId=sym_id, Plaintext=b"hello", EncryptionContext=CTX)
    assert ct["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT" and ct["KeyId"] == sym_arn
    out = kms.decrypt(CiphertextBlob=ct["CiphertextBlob"], EncryptionContext=dict(reversed(CTX.items())))
    assert out["Plaintext"] == b"hello" and out["KeyId"] == sym_arn
    assert out["KeyMaterialId"] == kms.describe_key(KeyId=sym_id)["KeyMetadata"]["CurrentKeyMaterialId"]


@check("symmetric: a wrong or missing encryption context is InvalidCiphertextException, empty message")
def _():
    ct = kms.encrypt(KeyId=sym_id, Plaintext=b"x", EncryptionContext=CTX)["CiphertextBlob"]
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=ct, message="")
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=ct,
                 EncryptionContext={"purpose": "conformance", "tenant": "a"}, message="")


@check("symmetric: Decrypt naming another key is IncorrectKeyException")
def _():
    ct = kms.encrypt(KeyId=sym_id, Plaintext=b"x")["CiphertextBlob"]
    expect_error("IncorrectKeyException", kms.decrypt, CiphertextBlob=ct, KeyId=other_sym,
                 message="The key ID in the request does not identify a CMK that can perform this operation.")


@check("symmetric: a corrupted blob is InvalidCiphertextException")
def _():
    ct = bytearray(kms.encrypt(KeyId=sym_id, Plaintext=b"x")["CiphertextBlob"])
    ct[-1] ^= 1
    expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=bytes(ct))


@check("symmetric: 4097 bytes of plaintext is ValidationException naming 'plaintext'")
def _():
    e = expect_error("ValidationException", kms.encrypt, KeyId=sym_id, Plaintext=b"x" * 4097)
    assert "Value at 'plaintext'" in e.response["Error"]["Message"]


@check("symmetric: an encryption context with an asymmetric key is ValidationException")
def _():
    expect_error("ValidationException", kms.encrypt, KeyId=rsa, Plaintext=b"x", EncryptionContext=CTX,
                 EncryptionAlgorithm="RSAES_OAEP_SHA_256")


@check("data keys: GenerateDataKey AES_256 / AES_128 / NumberOfBytes and its ciphertext decrypts")
def _():
    for kw, n in (({"KeySpec": "AES_256"}, 32), ({"KeySpec": "AES_128"}, 16), ({"NumberOfBytes": 7}, 7)):
        dk = kms.generate_data_key(KeyId=sym_id, EncryptionContext=CTX, **kw)
        assert len(dk["Plaintext"]) == n and dk["KeyId"] == sym_arn and len(dk["KeyMaterialId"]) == 64
        assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=CTX)["Plaintext"] == dk["Plaintext"]


@check("data keys: GenerateDataKeyWithoutPlaintext returns no plaintext")
def _():
    dk = kms.generate_data_key_without_plaintext(KeyId=sym_id, KeySpec="AES_256")
    assert "Plaintext" not in dk
    assert len(kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"]) == 32


@check("data keys: KeySpec and NumberOfBytes together, or neither, is ValidationException")
def _():
    expect_error("ValidationException", kms.generate_data_key, KeyId=sym_id, KeySpec="AES_256", NumberOfBytes=32)
    expect_error("ValidationException", kms.generate_data_key, KeyId=sym_id)


@check("data keys: NumberOfBytes 0 and 1025 are ValidationException naming 'numberOfBytes'")
def _():
    for n in (0, 1025):
        e = expect_error("ValidationException", kms.generate_data_key, KeyId=sym_id, NumberOfBytes=n)
        assert "'numberOfBytes'" in e.response["Error"]["Message"]


@check("data keys: an asymmetric key is InvalidKeyUsageException")
def _():
    expect_error("InvalidKeyUsageException", kms.generate_data_key, KeyId=rsa, NumberOfBytes=32)
    expect_error("InvalidKeyUsageException", kms.generate_data_key, KeyId=sign_key, NumberOfBytes=32)


@check("ReEncrypt: symmetric to symmetric, with source and destination material ids")
def _():
    ct = kms.encrypt(KeyId=sym_id, Plaintext=b"move me", EncryptionContext=CTX)["CiphertextBlob"]
    out = kms.re_encrypt(CiphertextBlob=ct, SourceEncryptionContext=CTX, DestinationKeyId=other_sym,
                         DestinationEncryptionContext={"b": "c"})
    assert out["SourceKeyId"] == sym_arn and out["KeyId"].endswith(other_sym)
    assert out["SourceEncryptionAlgorithm"] == out["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert "SourceKeyMaterialId" in out and "DestinationKeyMaterialId" in out
    assert kms.decrypt(CiphertextBlob=out["CiphertextBlob"], EncryptionContext={"b": "c"})["Plaintext"] == b"move me"


@check("ReEncrypt: symmetric to RSA and back")
def _():
    ct = kms.encrypt(KeyId=sym_id, Plaintext=b"rsa trip")["CiphertextBlob"]
    to_rsa = kms.re_encrypt(CiphertextBlob=ct, DestinationKeyId=rsa, DestinationEncryptionAlgorithm="RSAES_OAEP_SHA_256")
    assert to_rsa["DestinationEncryptionAlgorithm"] == "RSAES_OAEP_SHA_256"
    back = kms.re_encrypt(CiphertextBlob=to_rsa["CiphertextBlob"], SourceKeyId=rsa,
                          SourceEncryptionAlgorithm="RSAES_OAEP_SHA_256", DestinationKeyId=sym_id)
    assert kms.decrypt(CiphertextBlob=back["CiphertextBlob"])["Plaintext"] == b"rsa trip"


@check("rotation: GetKeyRotationStatus of a new key has only KeyId and KeyRotationEnabled false")
def _():
    st = kms.get_key_rotation_status(KeyId=sym_id)
    st.pop("ResponseMetadata")
    assert st == {"KeyId": sym_arn, "KeyRotationEnabled": False} or st == {"KeyId": sym_id, "KeyRotationEnabled": False}, st


@check("rotation: EnableKeyRotation with a period, then status reports it and the next date")
def _():
    kms.enable_key_rotation(KeyId=sym_id, RotationPeriodInDays=90)
    st = kms.get_key_rotation_status(KeyId=sym_id)
    assert st["KeyRotationEnabled"] is True and st["RotationPeriodInDays"] == 90 and "NextRotationDate" in st
    kms.disable_key_rotation(KeyId=sym_id)
    assert kms.get_key_rotation_status(KeyId=sym_id)["KeyRotationEnabled"] is False


@check("rotation: RotationPeriodInDays 89 and 2561 are ValidationException")
def _():
    for d in (89, 2561):
        expect_error("ValidationException", kms.enable_key_rotation, KeyId=sym_id, RotationPeriodInDays=d)


@check("rotation: RotateKeyOnDemand keeps old ciphertexts decryptable and lists the rotation")
def _():
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    old = kms.encrypt(KeyId=key, Plaintext=b"before")
    kms.rotate_key_on_demand(KeyId=key)
    new = kms.encrypt(KeyId=key, Plaintext=b"after")
    old_back = kms.decrypt(CiphertextBlob=old["CiphertextBlob"])
    new_back = kms.decrypt(CiphertextBlob=new["CiphertextBlob"])
    assert old_back["Plaintext"] == b"before" and new_back["KeyMaterialId"] != old_back["KeyMaterialId"]
    rot = kms.list_key_rotations(KeyId=key)["Rotations"]
    assert len(rot) == 1 and rot[0]["RotationType"] == "ON_DEMAND"
    assert rot[0]["KeyMaterialId"] == new_back["KeyMaterialId"]
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["CurrentKeyMaterialId"] == new_back["KeyMaterialId"]


@check("rotation: asymmetric and HMAC keys are UnsupportedOperationException")
def _():
    hmac = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    for key in (rsa, hmac):
        expect_error("UnsupportedOperationException", kms.enable_key_rotation, KeyId=key)
        expect_error("UnsupportedOperationException", kms.rotate_key_on_demand, KeyId=key)


@check("rotation: RotateKeyOnDemand of a disabled key is DisabledException '<arn> is disabled.'")
def _():
    md = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=md["KeyId"])
    expect_error("DisabledException", kms.rotate_key_on_demand, KeyId=md["KeyId"], message=f"{md['Arn']} is disabled.")


@check("HMAC: CreateKey without KeyUsage is ValidationException in KMS's words")
def _():
    expect_error("ValidationException", kms.create_key, KeySpec="HMAC_256",
                 message="You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.")


@check("HMAC: each spec has its one MAC algorithm; GenerateMac and VerifyMac agree")
def _():
    for bits in (224, 256, 384, 512):
        md = kms.create_key(KeySpec=f"HMAC_{bits}", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
        alg = f"HMAC_SHA_{bits}"
        assert md["MacAlgorithms"] == [alg]
        mac = kms.generate_mac(KeyId=md["KeyId"], Message=b"msg", MacAlgorithm=alg)
        assert len(mac["Mac"]) == bits // 8 and mac["MacAlgorithm"] == alg
        ok = kms.verify_mac(KeyId=md["KeyId"], Message=b"msg", MacAlgorithm=alg, Mac=mac["Mac"])
        assert ok["MacValid"] is True


@check("HMAC: a wrong MAC is KMSInvalidMacException with an empty message")
def _():
    key = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    mac = kms.generate_mac(KeyId=key, Message=b"msg", MacAlgorithm="HMAC_SHA_256")["Mac"]
    expect_error("KMSInvalidMacException", kms.verify_mac, KeyId=key, Message=b"msh",
                 MacAlgorithm="HMAC_SHA_256", Mac=mac, message="")


@check("HMAC: another spec's algorithm and other key usages are InvalidKeyUsageException in KMS's words")
def _():
    md = kms.create_key(KeySpec="HMAC_224", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    expect_error("InvalidKeyUsageException", kms.generate_mac, KeyId=md["KeyId"], Message=b"m",
                 MacAlgorithm="HMAC_SHA_256", message="Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_224.")
    expect_error("InvalidKeyUsageException", kms.sign, KeyId=md["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256",
                 message=f"{md['Arn']} key usage is GENERATE_VERIFY_MAC which is not valid for Sign.")
    expect_error("InvalidKeyUsageException", kms.generate_mac, KeyId=sym_id, Message=b"m", MacAlgorithm="HMAC_SHA_256",
                 message=f"{sym_arn} key usage is ENCRYPT_DECRYPT which is not valid for GenerateMac.")


@check("data key pairs: every KeyPairSpec, private key decrypts to the PKCS#8 returned")
def _():
    for spec in ("RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
                 "ECC_SECG_P256K1", "SM2", "ECC_NIST_EDWARDS25519"):
        pair = kms.generate_data_key_pair(KeyId=sym_id, KeyPairSpec=spec, EncryptionContext=CTX)
        assert pair["KeyPairSpec"] == spec and pair["KeyId"] == sym_arn
        back = kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"], EncryptionContext=CTX)
        assert back["Plaintext"] == pair["PrivateKeyPlaintext"], spec
        # The public key is the private key's own (pyca/cryptography parses both DER forms; it
        # has no SM2 curve, so SM2 pairs are judged by openssl in tests/serve_kms_api.rs).
        if spec == "SM2":
            continue
        private = serialization.load_der_private_key(pair["PrivateKeyPlaintext"], password=None)
        assert private.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo) == pair["PublicKey"], spec


@check("data key pairs: WithoutPlaintext has no private key plaintext; ML_DSA_65 is not a KeyPairSpec")
def _():
    pair = kms.generate_data_key_pair_without_plaintext(KeyId=sym_id, KeyPairSpec="ECC_NIST_P256")
    assert "PrivateKeyPlaintext" not in pair and "PublicKey" in pair
    expect_error("ValidationException", kms.generate_data_key_pair, KeyId=sym_id, KeyPairSpec="ML_DSA_65")


@check("data key pairs: DryRun is DryRunOperationException in KMS's words")
def _():
    expect_error("DryRunOperationException", kms.generate_data_key_pair, KeyId=sym_id, KeyPairSpec="RSA_2048",
                 DryRun=True, message="The request would have succeeded, but the DryRun option is set.")


@check("GenerateRandom: 1 and 1024 bytes; 0, 1025 and none are ValidationException")
def _():
    assert len(kms.generate_random(NumberOfBytes=1)["Plaintext"]) == 1
    assert len(kms.generate_random(NumberOfBytes=1024)["Plaintext"]) == 1024
    for n in (0, 1025):
        expect_error("ValidationException", kms.generate_random, NumberOfBytes=n)
    expect_error("ValidationException", kms.generate_random, message="NumberOfBytes is required.")


@check("UpdateKeyDescription: DescribeKey shows the new description")
def _():
    kms.update_key_description(KeyId=other_sym, Description="updated by conformance")
    assert kms.describe_key(KeyId=other_sym)["KeyMetadata"]["Description"] == "updated by conformance"


@check("grants: a grantee role may do exactly what its grant allows, under its constraints")
def _():
    role = ACCOUNT_ROLE.format(account=account)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    ct = kms.encrypt(KeyId=key, Plaintext=b"granted", EncryptionContext={"app": "a"})["CiphertextBlob"]
    creds = sts.assume_role(RoleArn=role, RoleSessionName="grantee")["Credentials"]
    grantee = client(aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                     aws_session_token=creds["SessionToken"])
    expect_error("AccessDeniedException", grantee.decrypt, CiphertextBlob=ct, EncryptionContext={"app": "a"})
    g = kms.create_grant(KeyId=key, GranteePrincipal=role, Operations=["Decrypt"],
                         Constraints={"EncryptionContextSubset": {"app": "a"}})
    assert grantee.decrypt(CiphertextBlob=ct, EncryptionContext={"app": "a"},
                           GrantTokens=[g["GrantToken"]])["Plaintext"] == b"granted"
    expect_error("AccessDeniedException", grantee.encrypt, KeyId=key, Plaintext=b"x")
    listed = kms.list_grants(KeyId=key)["Grants"]
    assert [x["GrantId"] for x in listed] == [g["GrantId"]] and listed[0]["GranteePrincipal"] == role
    kms.revoke_grant(KeyId=key, GrantId=g["GrantId"])
    expect_error("AccessDeniedException", grantee.decrypt, CiphertextBlob=ct, EncryptionContext={"app": "a"})


@check("grants: Name makes CreateGrant idempotent; RetireGrant by token; ListRetirableGrants")
def _():
    role = ACCOUNT_ROLE.format(account=account)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    a = kms.create_grant(KeyId=key, GranteePrincipal=role, RetiringPrincipal=role, Operations=["Encrypt"], Name="n")
    b = kms.create_grant(KeyId=key, GranteePrincipal=role, RetiringPrincipal=role, Operations=["Encrypt"], Name="n")
    assert a["GrantId"] == b["GrantId"] and a["GrantToken"] != b["GrantToken"]
    retirable = kms.list_retirable_grants(RetiringPrincipal=role)["Grants"]
    assert a["GrantId"] in [x["GrantId"] for x in retirable]
    kms.retire_grant(GrantToken=b["GrantToken"])
    assert kms.list_grants(KeyId=key)["Grants"] == []


@check("grants: operations must suit the key; a forged token is InvalidGrantTokenException")
def _():
    role = ACCOUNT_ROLE.format(account=account)
    expect_error("ValidationException", kms.create_grant, KeyId=sym_id, GranteePrincipal=role, Operations=["Sign"])
    expect_error("ValidationException", kms.create_grant, KeyId=sign_key, GranteePrincipal=role, Operations=["Sign"],
                 Constraints={"EncryptionContextEquals": {"a": "b"}})
    expect_error("InvalidGrantTokenException", kms.describe_key, KeyId=sym_id, GrantTokens=["not-a-token"])


@check("multi-Region: mrk- key, replica in another Region decrypts the primary's ciphertext")
def _():
    md = kms.create_key(MultiRegion=True)["KeyMetadata"]
    key = md["KeyId"]
    assert key.startswith("mrk-") and len(key) == 36 and md["MultiRegion"] is True
    assert md["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
    ct = kms.encrypt(KeyId=key, Plaintext=b"everywhere")["CiphertextBlob"]
    rep = kms.replicate_key(KeyId=key, ReplicaRegion="us-west-2")
    assert rep["ReplicaKeyMetadata"]["KeyState"] == "Creating"
    assert rep["ReplicaKeyMetadata"]["Arn"] == md["Arn"].replace("us-east-1", "us-west-2")
    west = client("us-west-2")
    assert west.decrypt(CiphertextBlob=ct)["Plaintext"] == b"everywhere"
    expect_error("UnsupportedOperationException", west.replicate_key, KeyId=key, ReplicaRegion="eu-west-1",
                 message=f"{rep['ReplicaKeyMetadata']['Arn']} is not a multi-region primary key.")
    kms.update_primary_region(KeyId=key, PrimaryRegion="us-west-2")
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"


@check("GetKeyLastUsage: empty before use, then the last cryptographic operation")
def _():
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    assert kms.get_key_last_usage(KeyId=key).get("KeyLastUsage", {}) == {}
    kms.encrypt(KeyId=key, Plaintext=b"x")
    assert kms.get_key_last_usage(KeyId=key)["KeyLastUsage"]["Operation"] == "Encrypt"


@check("custom key stores: none exist; creating one is UnsupportedOperationException")
def _():
    assert kms.describe_custom_key_stores()["CustomKeyStores"] == []
    expect_error("UnsupportedOperationException", kms.create_custom_key_store, CustomKeyStoreName="s",
                 CloudHsmClusterId="cluster-1234567890a", TrustAnchorCertificate="x", KeyStorePassword="password")
    expect_error("CustomKeyStoreNotFoundException", kms.connect_custom_key_store, CustomKeyStoreId="cks-1234567890abcdef0")


failed = [(n, why) for n, why in results if why]
for name, why in results:
    print(f"{'ok  ' if why is None else 'FAIL'} {name}" + (f"\n     {why}" if why else ""))
print(f"conformance: {len(results) - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if failed else 0)
