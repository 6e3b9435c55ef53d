//! Property tests (issue #10 item 21): every parser that takes bytes from a user or a client gets
//! arbitrary and mutated input and must answer without panicking; the conversions must round-trip.
//! Bounded for the test command (proptest's default 256 cases per property, seconds in all); for
//! a longer run: `PROPTEST_CASES=200000 cargo test --release --test fuzz`.

use std::path::Path;
use std::time::SystemTime;

use proptest::prelude::*;
use serde_json::{Value, json};

use kms_openssl::core::ecdsa;
use kms_openssl::core::keys::PublicKey;
use kms_openssl::policy;
use kms_openssl::server::auth::sigv4::{self, Expect, Request};
use kms_openssl::server::auth::sts;

const P256: openssl::nid::Nid = openssl::nid::Nid::X9_62_PRIME256V1;

/// Arbitrary JSON, a few levels deep, with the names KMS requests use among the keys.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("KeyId".to_string()),
        Just("Message".to_string()),
        Just("SigningAlgorithm".to_string()),
        Just("MessageType".to_string()),
        Just("Signature".to_string()),
        Just("Policy".to_string()),
        Just("Tags".to_string()),
        Just("AliasName".to_string()),
        Just("TargetKeyId".to_string()),
        Just("GrantTokens".to_string()),
        Just("Limit".to_string()),
        Just("Marker".to_string()),
        "[A-Za-z]{1,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::from),
        Just(Value::from("bQ==")),
        Just(Value::from("alias/x")),
        Just(Value::from("ECDSA_SHA_256")),
    ];
    leaf.prop_recursive(3, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn sig_der(r: &[u8], s: &[u8]) -> Vec<u8> {
    openssl::ecdsa::EcdsaSig::from_private_components(
        openssl::bn::BigNum::from_slice(r).unwrap(),
        openssl::bn::BigNum::from_slice(s).unwrap(),
    )
    .unwrap()
    .to_der()
    .unwrap()
}

proptest! {
    #[test]
    fn ecdsa_conversions_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..160)) {
        let _ = ecdsa::der_to_raw(&bytes, P256, 32);
        let _ = ecdsa::raw_to_der(&bytes, P256, 32);
        let _ = ecdsa::check_der(&bytes, P256);
    }

    #[test]
    fn ecdsa_der_and_raw_round_trip_for_in_range_values(r in prop::collection::vec(any::<u8>(), 1..32), s in prop::collection::vec(any::<u8>(), 1..32)) {
        prop_assume!(r.iter().any(|b| *b != 0) && s.iter().any(|b| *b != 0));
        let der = sig_der(&r, &s);
        let raw = ecdsa::der_to_raw(&der, P256, 32).unwrap();
        prop_assert_eq!(raw.len(), 64);
        prop_assert_eq!(ecdsa::raw_to_der(&raw, P256, 32).unwrap(), der);
    }

    #[test]
    fn public_key_parsing_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600), pem in any::<bool>(), text in ".{0,30}") {
        let input = if pem {
            use base64::Engine;
            format!("{text}\n-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
                base64::engine::general_purpose::STANDARD.encode(&bytes)).into_bytes()
        } else {
            bytes
        };
        let _ = PublicKey::from_bytes(&input, Path::new("fuzz"));
    }

    #[test]
    fn public_key_parsing_survives_mutations_of_a_real_key(flips in prop::collection::vec((0usize..91, any::<u8>()), 1..4)) {
        let key = openssl::ec::EcKey::generate(&openssl::ec::EcGroup::from_curve_name(P256).unwrap()).unwrap();
        let mut der = key.public_key_to_der().unwrap();
        for (at, x) in flips {
            let n = der.len();
            der[at % n] ^= x;
        }
        let _ = PublicKey::from_bytes(&der, Path::new("fuzz"));
    }

    #[test]
    fn sigv4_authorization_header_and_canonical_request_never_panic(header in ".{0,200}", path in "[ -~]{0,60}", query in "[ -~]{0,60}", body in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = sigv4::parse_authorization(&header);
        let _ = sigv4::canonical_uri(&path);
        let _ = sigv4::canonical_query(&query);
        let req = Request {
            method: "POST",
            path: &path,
            query: &query,
            headers: vec![
                ("authorization".into(), header.clone()),
                ("x-amz-date".into(), "20260101T000000Z".into()),
                ("host".into(), "localhost".into()),
            ],
            body: &body,
        };
        let _ = sigv4::canonical_request(&req, &["host".to_string(), header.clone()], "UNSIGNED-PAYLOAD");
        let expect = Expect { service: "kms", region: Some("us-east-1"), now: SystemTime::now() };
        let _ = sigv4::verify(&req, &expect, |_| None);
    }

    #[test]
    fn key_policy_grammar_never_panics(text in ".{0,300}") {
        let _ = policy::validate(&text);
    }

    #[test]
    fn key_policy_grammar_never_panics_on_json_shaped_policies(statements in prop::collection::vec(json_value(), 0..4), version in json_value()) {
        let p = json!({"Version": version, "Statement": statements});
        if let Ok(parsed) = policy::validate(&p.to_string()) {
            let _ = policy::check(&parsed);
        }
    }

    #[test]
    fn sts_query_decoder_never_panics(form in prop::collection::vec(any::<u8>(), 0..200), action in prop_oneof![Just("AssumeRole"), Just("GetCallerIdentity"), Just("x")]) {
        let _ = sts::parse_form(&form);
        let _ = sts::parse_request(&form);
        let mut with_action = format!("Action={action}&").into_bytes();
        with_action.extend(&form);
        let _ = sts::parse_request(&with_action);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    #[test]
    fn kms_json_requests_get_kms_errors_never_panics(op in prop::sample::select(kms_openssl::server::ops::OPERATIONS.iter().map(|o| o.name).collect::<Vec<_>>()), body in json_value()) {
        let (app, _dir) = app();
        let admin = kms_openssl::server::auth::sigv4::Caller {
            access_key_id: "a".into(),
            principal: kms_openssl::aws::Principal::root("111122223333"),
            region: "us-east-1".into(),
            service: "kms".into(),
            temporary: false,
        };
        let body = match body { Value::Object(_) => body, other => json!({"KeyId": other}) };
        let _ = kms_openssl::server::ops::dispatch(&app, &admin, op, &body);
    }
}

fn app() -> (kms_openssl::server::App, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = kms_openssl::server::ServerConfig::ephemeral(dir.path().join("s"));
    cfg.admin_credentials = Some(("a".into(), "b".into()));
    (kms_openssl::server::App::open(&cfg).unwrap(), dir)
}
